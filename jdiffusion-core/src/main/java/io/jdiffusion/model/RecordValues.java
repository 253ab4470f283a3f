package io.jdiffusion.model;

import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.RecordComponent;
import java.util.Arrays;
import java.util.Objects;
import java.util.StringJoiner;

/**
 * Value equality, hash and text for config records that hold arrays: a record's generated equals compares
 * arrays by identity, so two identical configs read from different places would differ.
 */
final class RecordValues {
    private RecordValues() {
    }

    static boolean equal(Record a, Object b) {
        if (a == b) return true;
        if (b == null || a.getClass() != b.getClass()) return false;
        for (RecordComponent c : a.getClass().getRecordComponents()) {
            if (!Objects.deepEquals(value(c, a), value(c, b))) return false;
        }
        return true;
    }

    static int hash(Record r) {
        RecordComponent[] cs = r.getClass().getRecordComponents();
        Object[] values = new Object[cs.length];
        for (int i = 0; i < cs.length; i++) values[i] = value(cs[i], r);
        return Arrays.deepHashCode(values);
    }

    static String text(Record r) {
        StringJoiner j = new StringJoiner(", ", r.getClass().getSimpleName() + "[", "]");
        for (RecordComponent c : r.getClass().getRecordComponents()) {
            String v = Arrays.deepToString(new Object[]{value(c, r)});
            j.add(c.getName() + "=" + v.substring(1, v.length() - 1));
        }
        return j.toString();
    }

    private static Object value(RecordComponent c, Object r) {
        try {
            return c.getAccessor().invoke(r);
        } catch (IllegalAccessException | InvocationTargetException e) {
            throw new IllegalStateException(e);
        }
    }
}
