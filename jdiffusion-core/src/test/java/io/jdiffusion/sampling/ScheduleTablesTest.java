package io.jdiffusion.sampling;

import com.fasterxml.jackson.databind.JsonNode;
import io.jdiffusion.io.SafeTensors;
import io.jdiffusion.testing.Fixtures;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Every sampler's timesteps and sigmas against diffusers' set_timesteps on the SD 1.5 scheduler config
 * (schedulers/tables.safetensors).
 */
class ScheduleTablesTest {

    static Stream<Arguments> tables() {
        List<Arguments> out = new ArrayList<>();
        for (SamplerId id : SamplerId.values()) {
            for (int steps : new int[]{4, 20, 50}) out.add(Arguments.of(id, steps));
        }
        return out.stream();
    }

    private static JsonNode tablesCase() {
        return Fixtures.cases("scheduler_tables").getFirst();
    }

    /** float32 ulps between two values (0 when equal). */
    static long ulps(float a, float b) {
        return Math.abs((long) Float.floatToIntBits(a) - (long) Float.floatToIntBits(b));
    }

    @ParameterizedTest
    @MethodSource("tables")
    void timestepsAndSigmasMatchDiffusers(SamplerId id, int steps) {
        JsonNode c = tablesCase();
        SafeTensors file = Fixtures.tensors(c.get("file").asText());
        SchedulerConfig config = SchedulerConfig.fromJson(c.get("base_config"));
        Sampler sampler = Samplers.create(id, config, steps);

        float[] refT = Fixtures.tensor(file, id.id + "_" + steps + "_timesteps").data;
        double[] t = sampler.timesteps();
        assertThat(t).hasSize(refT.length);
        for (int i = 0; i < t.length; i++) {
            if (id == SamplerId.DPM2 && i % 2 == 1) {
                // DPM2's midpoint timesteps come from float32 logs and exps (numpy's and torch's SIMD
                // versions are not correctly rounded), amplified by the interpolation weight at low t
                assertThat(Math.abs(t[i] - refT[i])).as("%s timestep %d: %s vs %s", id, i, t[i], refT[i])
                        .isLessThanOrEqualTo(1e-6 * Math.abs(refT[i]));
            } else {
                assertThat((float) t[i]).as("%s timestep %d", id, i).isEqualTo(refT[i]);
            }
            assertThat((double) (float) t[i]).as("timesteps are float32 values").isEqualTo(t[i]);
        }

        String sigmaName = id.id + "_" + steps + "_sigmas";
        float[] s = sampler.sigmas();
        if (!file.tensors().containsKey(sigmaName)) {
            assertThat(s).as("%s has no sigma table", id).isNull();
            return;
        }
        float[] refS = Fixtures.tensor(file, sigmaName).data;
        assertThat(s).hasSize(refS.length);
        for (int i = 0; i < s.length; i++) {
            // torch's ((1-ᾱ)/ᾱ) ** 0.5 is not correctly rounded: some of its training sigmas lie one ulp
            // off ours, and so do the sigmas interpolated or derived from them
            assertThat(ulps(s[i], refS[i])).as("%s sigma %d: %s vs %s", id, i, s[i], refS[i])
                    .isLessThanOrEqualTo(1);
        }
    }

    /** ...but those one-ulp differences are the exception: a systematic error would show in most entries. */
    @Test
    void mostSigmasAreBitIdentical() {
        JsonNode c = tablesCase();
        SafeTensors file = Fixtures.tensors(c.get("file").asText());
        SchedulerConfig config = SchedulerConfig.fromJson(c.get("base_config"));
        int exact = 0, total = 0;
        for (SamplerId id : SamplerId.values()) {
            for (int steps : new int[]{4, 20, 50}) {
                String name = id.id + "_" + steps + "_sigmas";
                if (!file.tensors().containsKey(name)) continue;
                float[] ref = Fixtures.tensor(file, name).data;
                float[] s = Samplers.create(id, config, steps).sigmas();
                for (int i = 0; i < ref.length; i++) {
                    if (s[i] == ref[i]) exact++;
                    total++;
                }
            }
        }
        assertThat(total).isGreaterThan(500);
        assertThat((double) exact / total).isGreaterThan(0.7);
    }
}
