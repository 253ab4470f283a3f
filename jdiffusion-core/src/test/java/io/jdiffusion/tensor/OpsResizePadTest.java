package io.jdiffusion.tensor;

import org.junit.jupiter.api.Test;

import java.util.Random;

import static org.assertj.core.api.Assertions.assertThat;

class OpsResizePadTest {

    private static Tensor random(int... shape) {
        Random r = new Random(42);
        float[] d = new float[Tensor.numel(shape)];
        for (int i = 0; i < d.length; i++) d[i] = (float) r.nextGaussian();
        return new Tensor(d, shape);
    }

    @Test
    void nearestResizeToTwiceTheSizeEqualsUpsample2x() {
        Tensor x = random(2, 3, 5, 7);
        assertThat(Ops.upsampleNearest(x, 10, 14).data).containsExactly(Ops.upsampleNearest2x(x).data);
    }

    @Test
    void nearestResizeToAnOddSizeRepeatsEarlierPixelsAndKeepsTheLast() {
        // 1 row of 3 pixels to 7: torch picks floor(i·3/7) = 0,0,0,1,1,2,2
        Tensor x = new Tensor(new float[]{10, 20, 30}, 1, 1, 1, 3);
        Tensor y = Ops.upsampleNearest(x, 1, 7);
        assertThat(y.shape).containsExactly(1, 1, 1, 7);
        assertThat(y.data).containsExactly(10, 10, 10, 20, 20, 30, 30);
    }

    @Test
    void zeroPadAddsZerosOnTheRequestedSides() {
        Tensor x = new Tensor(new float[]{1, 2, 3, 4}, 1, 1, 2, 2);
        Tensor y = Ops.pad(x, 0, 1, 0, 1);
        assertThat(y.shape).containsExactly(1, 1, 3, 3);
        assertThat(y.data).containsExactly(1, 2, 0, 3, 4, 0, 0, 0, 0);
        Tensor z = Ops.pad(x, 1, 0, 2, 0);
        assertThat(z.shape).containsExactly(1, 1, 4, 3);
        assertThat(z.data).containsExactly(0, 0, 0, 0, 0, 0, 0, 1, 2, 0, 3, 4);
    }
}
