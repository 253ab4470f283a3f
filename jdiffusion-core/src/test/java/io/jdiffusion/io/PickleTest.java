package io.jdiffusion.io;

import io.jdiffusion.JDiffusionException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.math.BigInteger;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

@SuppressWarnings("unchecked")
class PickleTest {

    /**
     * CPython 3.11's {@code pickle.dumps(obj, protocol=p)} for p = 0..5 of
     * <pre>
     * shared = [7]
     * obj = {'text': 'h\u00e9llo\n"q\'', 'ints': [0, 1, -1, 255, 256, 65535, 65536, -2**31, 2**31, 2**63, -2**70],
     *        'floats': [1.5, -0.0, 1e300], 'flags': (True, False, None), 'bytes': b'\x00\xff',
     *        'nested': {(1, 'a'): [[], ()]}, 'set': {3}, 'frozen': frozenset({4}), 'a': shared, 'b': shared,
     *        'od': collections.OrderedDict([('x', 1)])}
     * </pre>
     * Together they use every opcode family: text opcodes (protocol 0), binary ints and strings, LONG1,
     * TUPLE1-3, NEWTRUE, STACK_GLOBAL, FRAME, MEMOIZE, EMPTY_SET/ADDITEMS, FROZENSET, bytes via _codecs.encode
     * (protocols 0-2) or BINBYTES, sets via builtins.set (protocols 0-3).
     */
    private static final String[] CPYTHON = {
            /* protocol 0 */ "286470300a56746578740a70310a5668e96c6c6f5c75303030612271270a70320a7356696e74730a70330a286c70340a4930"
                    + "0a6149310a61492d310a61493235350a61493235360a614936353533350a614936353533360a61492d323134373438333634"
                    + "380a614c323134373438333634384c0a614c393232333337323033363835343737353830384c0a614c2d3131383035393136"
                    + "32303731373431313330333432344c0a617356666c6f6174730a70350a286c70360a46312e350a61462d302e300a61463165"
                    + "2b3330300a617356666c6167730a70370a284930310a4930300a4e7470380a735662797465730a70390a635f636f64656373"
                    + "0a656e636f64650a7031300a28565c7530303030ff0a7031310a566c6174696e310a7031320a747031330a527031340a7356"
                    + "6e65737465640a7031350a28647031360a2849310a56610a7031370a747031380a286c7031390a286c7032300a6128746173"
                    + "73567365740a7032310a635f5f6275696c74696e5f5f0a7365740a7032320a28286c7032330a49330a61747032340a527032"
                    + "350a735666726f7a656e0a7032360a635f5f6275696c74696e5f5f0a66726f7a656e7365740a7032370a28286c7032380a49"
                    + "340a61747032390a527033300a736731370a286c7033310a49370a617356620a7033320a6733310a73566f640a7033330a63"
                    + "636f6c6c656374696f6e730a4f726465726564446963740a7033340a2874527033350a56780a7033360a49310a73732e",
            /* protocol 1 */ "7d7100285804000000746578747101580a00000068c3a96c6c6f0a22712771025804000000696e747371035d7104284b004b"
                    + "014affffffff4bff4d00014dffff4a000001004a000000804c323134373438333634384c0a4c393232333337323033363835"
                    + "343737353830384c0a4c2d313138303539313632303731373431313330333432344c0a655806000000666c6f61747371055d"
                    + "710628473ff8000000000000478000000000000000477e37e43c8800759c655805000000666c6167737107284930310a4930"
                    + "300a4e747108580500000062797465737109635f636f646563730a656e636f64650a710a28580300000000c3bf710b580600"
                    + "00006c6174696e31710c74710d52710e58060000006e6573746564710f7d7110284b0158010000006171117471125d711328"
                    + "5d711429657358030000007365747115635f5f6275696c74696e5f5f0a7365740a7116285d71174b03617471185271195806"
                    + "00000066726f7a656e711a635f5f6275696c74696e5f5f0a66726f7a656e7365740a711b285d711c4b046174711d52711e68"
                    + "115d711f4b07615801000000627120681f58020000006f64712163636f6c6c656374696f6e730a4f72646572656444696374"
                    + "0a71222952712358010000007871244b0173752e",
            /* protocol 2 */ "80027d7100285804000000746578747101580a00000068c3a96c6c6f0a22712771025804000000696e747371035d7104284b"
                    + "004b014affffffff4bff4d00014dffff4a000001004a000000808a0500000080008a090000000000000080008a0900000000"
                    + "00000000c0655806000000666c6f61747371055d710628473ff8000000000000478000000000000000477e37e43c8800759c"
                    + "655805000000666c616773710788894e877108580500000062797465737109635f636f646563730a656e636f64650a710a58"
                    + "0300000000c3bf710b58060000006c6174696e31710c86710d52710e58060000006e6573746564710f7d71104b0158010000"
                    + "006171118671125d7113285d711429657358030000007365747115635f5f6275696c74696e5f5f0a7365740a71165d71174b"
                    + "0361857118527119580600000066726f7a656e711a635f5f6275696c74696e5f5f0a66726f7a656e7365740a711b5d711c4b"
                    + "046185711d52711e68115d711f4b07615801000000627120681f58020000006f64712163636f6c6c656374696f6e730a4f72"
                    + "6465726564446963740a71222952712358010000007871244b0173752e",
            /* protocol 3 */ "80037d7100285804000000746578747101580a00000068c3a96c6c6f0a22712771025804000000696e747371035d7104284b"
                    + "004b014affffffff4bff4d00014dffff4a000001004a000000808a0500000080008a090000000000000080008a0900000000"
                    + "00000000c0655806000000666c6f61747371055d710628473ff8000000000000478000000000000000477e37e43c8800759c"
                    + "655805000000666c616773710788894e877108580500000062797465737109430200ff710a58060000006e6573746564710b"
                    + "7d710c4b01580100000061710d86710e5d710f285d711029657358030000007365747111636275696c74696e730a7365740a"
                    + "71125d71134b0361857114527115580600000066726f7a656e7116636275696c74696e730a66726f7a656e7365740a71175d"
                    + "71184b046185711952711a680d5d711b4b0761580100000062711c681b58020000006f64711d63636f6c6c656374696f6e73"
                    + "0a4f726465726564446963740a711e2952711f58010000007871204b0173752e",
            /* protocol 4 */ "8004950d010000000000007d94288c0474657874948c0a68c3a96c6c6f0a227127948c04696e7473945d94284b004b014aff"
                    + "ffffff4bff4d00014dffff4a000001004a000000808a0500000080008a090000000000000080008a090000000000000000c0"
                    + "658c06666c6f617473945d9428473ff8000000000000478000000000000000477e37e43c8800759c658c05666c6167739488"
                    + "894e87948c05627974657394430200ff948c066e6573746564947d944b018c01619486945d94285d942965738c0373657494"
                    + "8f94284b03908c0666726f7a656e94284b049194680d5d944b07618c01629468158c026f64948c0b636f6c6c656374696f6e"
                    + "73948c0b4f726465726564446963749493942952948c0178944b0173752e",
            /* protocol 5 */ "8005950d010000000000007d94288c0474657874948c0a68c3a96c6c6f0a227127948c04696e7473945d94284b004b014aff"
                    + "ffffff4bff4d00014dffff4a000001004a000000808a0500000080008a090000000000000080008a090000000000000000c0"
                    + "658c06666c6f617473945d9428473ff8000000000000478000000000000000477e37e43c8800759c658c05666c6167739488"
                    + "894e87948c05627974657394430200ff948c066e6573746564947d944b018c01619486945d94285d942965738c0373657494"
                    + "8f94284b03908c0666726f7a656e94284b049194680d5d944b07618c01629468158c026f64948c0b636f6c6c656374696f6e"
                    + "73948c0b4f726465726564446963749493942952948c0178944b0173752e"
    };

    /** The globals CPython used for that object, built as the torch allow-list builds them. */
    private static Object globals(String module, String name) {
        return switch (module + "." + name) {
            case "collections.OrderedDict" -> (Pickle.Callable) args -> new LinkedHashMap<>();
            case "builtins.set" -> (Pickle.Callable) args -> new LinkedHashSet<>((List<?>) args.getFirst());
            case "builtins.frozenset" -> (Pickle.Callable) args -> Set.copyOf((List<?>) args.getFirst());
            case "_codecs.encode" -> (Pickle.Callable) args -> ((String) args.getFirst()).getBytes(StandardCharsets.ISO_8859_1);
            default -> null;
        };
    }

    @ParameterizedTest(name = "protocol {0}")
    @ValueSource(ints = {0, 1, 2, 3, 4, 5})
    void readsWhatCPythonWrites(int protocol) {
        Object value = Pickle.load(HexFormat.of().parseHex(CPYTHON[protocol]), "test", PickleTest::globals, null);

        Map<?, ?> obj = (Map<?, ?>) value;
        assertThat(new ArrayList<Object>(obj.keySet()))
                .containsExactly("text", "ints", "floats", "flags", "bytes", "nested", "set", "frozen", "a", "b", "od");
        assertThat(obj.get("text")).isEqualTo("h\u00e9llo\n\"q'");
        assertThat((List<Object>) obj.get("ints")).containsExactly(0L, 1L, -1L, 255L, 256L, 65535L, 65536L, -(1L << 31), 1L << 31,
                BigInteger.ONE.shiftLeft(63), BigInteger.ONE.shiftLeft(70).negate());
        assertThat((List<Object>) obj.get("floats")).containsExactly(1.5, -0.0, 1e300);
        assertThat(obj.get("flags")).isEqualTo(Pickle.Tuple.of(true, false, null));
        assertThat((byte[]) obj.get("bytes")).containsExactly(0, 0xff);
        assertThat(obj.get("nested")).isEqualTo(Map.of(Pickle.Tuple.of(1L, "a"), List.of(List.of(), Pickle.Tuple.of())));
        assertThat((Set<Object>) obj.get("set")).containsExactly(3L);
        assertThat((Set<Object>) obj.get("frozen")).containsExactly(4L);
        assertThat(obj.get("a")).isEqualTo(List.of(7L)).isSameAs(obj.get("b")); // one object, shared through the memo
        assertThat(obj.get("od")).isEqualTo(Map.of("x", 1L));
    }

    private static Object load(String text) {
        return Pickle.load(text.getBytes(StandardCharsets.ISO_8859_1), "test", (m, n) -> null, null);
    }

    @Test
    void protocolZeroStringsAndStackOpcodes() {
        // Python 2 str with escapes; MARK MARK 1 POP_MARK 3 DUP TUPLE; MARK POP (pops the mark)
        assertThat(load("S'a\\n\\x41\\101'\np0\n.")).isEqualTo("a\nAA");
        assertThat(load("((I1\n1I3\n2t.")).isEqualTo(Pickle.Tuple.of(3L, 3L));
        assertThat(load("I5\n(0.")).isEqualTo(5L);
        assertThat(load("I01\n.")).isEqualTo(true);
    }

    @Test
    void aGlobalOffTheListIsRefusedBeforeAnythingElse() {
        assertThatThrownBy(() -> load("cos\nsystem\n(S'touch x'\ntR."))
                .isInstanceOf(JDiffusionException.class)
                .hasMessage("test: refused: the pickle asks for the Python global 'os.system', which a weights file has no use for "
                        + "(only tensors, storages and plain containers load; nothing was run)");
    }

    @Test
    void python2BuiltinNamesAreTheBuiltins() {
        Object v = Pickle.load("c__builtin__\nset\n(]I1\natR.".getBytes(StandardCharsets.ISO_8859_1), "test",
                PickleTest::globals, null);
        assertThat((Set<Object>) v).containsExactly(1L);
    }

    @Test
    void damagedPicklesFailWithAMessage() {
        assertThatThrownBy(() -> load("")).hasMessage("test: damaged or unsupported pickle: pickle ends without a STOP opcode");
        assertThatThrownBy(() -> load("X\u00ff\u00ff\u00ff\u007f")).hasMessageContaining("runs past the end of the pickle");
        assertThatThrownBy(() -> load("h\u0005.")).hasMessageContaining("memo entry 5, which was never stored");
        assertThatThrownBy(() -> load("0.")).hasMessageContaining("empty stack");
        assertThatThrownBy(() -> load("t.")).hasMessageContaining("MARK");
        assertThatThrownBy(() -> load("\u0080\u0006.")).hasMessageContaining("protocol 6");
        assertThatThrownBy(() -> load("\u00ff")).hasMessageContaining("unknown pickle opcode 0xff");
        assertThatThrownBy(() -> load("I1\nI2\n.")).hasMessageContaining("stops with 2 values");
        // a list as a dict key: Python cannot hash it, and hashing a list that holds itself would never end
        assertThatThrownBy(() -> load("}](I1\nlp0\ng0\nas.")).hasMessageContaining("cannot hash");
        assertThatThrownBy(() -> load("I1\n)R.")).hasMessageContaining("not callable");
        assertThatThrownBy(() -> load("I1\nQ.")).hasMessageContaining("persistent id");
    }
}
