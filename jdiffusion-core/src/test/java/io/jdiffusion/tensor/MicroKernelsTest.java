package io.jdiffusion.tensor;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.util.Random;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

/**
 * Every generated kernel of every vector width against a naive sum on random operands: all row-panel heights,
 * the k-major kernel, odd and even depths (the twice-written loops have an odd last step), with and without
 * accumulating, at offsets into larger arrays and a C stride wider than the tile, whose other columns must
 * stay as they were.
 */
class MicroKernelsTest {
    private static final int[] DEPTHS = {1, 2, 7, 40, 77};

    @ParameterizedTest
    @ValueSource(ints = {128, 256, 512})
    void rowPanelKernelsMatchTheNaiveSum(int bits) {
        MicroKernels mk = MicroKernels.forBits(bits);
        Random random = new Random(bits);
        for (int mr = 1; mr <= mk.maxMr; mr++) {
            for (int kc : DEPTHS) {
                for (boolean acc : new boolean[]{false, true}) {
                    int ao = 3, bo = 5, co = 2, ldc = mk.nr + 3;
                    float[] a = random(random, ao + mr * mk.rowStride), b = random(random, bo + kc * mk.nr);
                    float[] c = random(random, co + mr * ldc), before = c.clone();
                    mk.rowPanel(mr, a, ao, b, bo, kc, c, co, ldc, acc);
                    assertTile(mk, c, before, co, ldc, mr, acc, (i, p) -> a[ao + i * mk.rowStride + p], b, bo, kc,
                            bits + "-bit, " + mr + " rows, depth " + kc + ", acc " + acc);
                }
            }
        }
    }

    @ParameterizedTest
    @ValueSource(ints = {128, 256, 512})
    void kMajorKernelMatchesTheNaiveSum(int bits) {
        MicroKernels mk = MicroKernels.forBits(bits);
        Random random = new Random(-bits);
        int mr = mk.maxMr;
        for (int kc : DEPTHS) {
            for (boolean acc : new boolean[]{false, true}) {
                int ao = 7, bo = 1, co = 4, ldc = 2 * mk.nr;
                float[] a = random(random, ao + kc * mr), b = random(random, bo + kc * mk.nr);
                float[] c = random(random, co + mr * ldc), before = c.clone();
                mk.packed(a, ao, b, bo, kc, c, co, ldc, acc);
                assertTile(mk, c, before, co, ldc, mr, acc, (i, p) -> a[ao + p * mr + i], b, bo, kc,
                        bits + "-bit k-major, depth " + kc + ", acc " + acc);
            }
        }
    }

    private interface AElement {
        float at(int i, int p);
    }

    private static void assertTile(MicroKernels mk, float[] c, float[] before, int co, int ldc, int rows, boolean acc,
                                   AElement a, float[] b, int bo, int kc, String what) {
        for (int i = 0; i < rows; i++) {
            for (int j = 0; j < ldc; j++) {
                int at = co + i * ldc + j;
                if (j >= mk.nr) {
                    assertThat(c[at]).as(what + ": C outside the tile, row " + i + " column " + j).isEqualTo(before[at]);
                    continue;
                }
                double sum = acc ? before[at] : 0;
                double magnitude = Math.abs(sum);
                for (int p = 0; p < kc; p++) {
                    double term = (double) a.at(i, p) * b[bo + p * mk.nr + j];
                    sum += term;
                    magnitude += Math.abs(term);
                }
                assertThat((double) c[at]).as(what + ": C[" + i + "][" + j + "]").isCloseTo(sum, within(1e-6 * magnitude + 1e-7));
            }
        }
        assertThat(c[co - 1]).as(what + ": C before the tile").isEqualTo(before[co - 1]);
    }

    private static float[] random(Random random, int n) {
        float[] x = new float[n];
        for (int i = 0; i < n; i++) x[i] = random.nextFloat() * 2 - 1;
        return x;
    }
}
