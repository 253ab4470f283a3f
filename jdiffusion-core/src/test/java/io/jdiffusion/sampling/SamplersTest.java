package io.jdiffusion.sampling;

import io.jdiffusion.JDiffusionException;
import io.jdiffusion.tensor.Tensor;
import io.jdiffusion.testing.Fixtures;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.params.provider.MethodSource;

import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * Samplers driven by an exact denoiser: a network that knows the clean latents x0 and answers, at any
 * (input-scaled latents, timestep), the epsilon / v / x0 that is consistent with them under the
 * training schedule. Every sampler must then walk the noise down to exactly x0; a wrong sigma, input
 * scaling, timestep or update formula leaves a visible residue.
 */
class SamplersTest {
    private static final int[] SHAPE = {1, 4, 8, 8};

    private static SchedulerConfig config(String prediction) {
        // set_alpha_to_one: DDIM and PNDM then end at ᾱ = 1, i.e. at x0 itself
        return SchedulerConfig.stableDiffusionDefault().with("prediction_type", prediction)
                .with("set_alpha_to_one", "true");
    }

    /** ᾱ_t of SD's scaled-linear schedule, computed independently in double. */
    private static double[] alphasCumprod() {
        double[] acp = new double[1000];
        double a = Math.sqrt(0.00085), b = Math.sqrt(0.012), product = 1;
        for (int i = 0; i < 1000; i++) {
            double root = a + (b - a) * i / 999;
            product *= 1 - root * root;
            acp[i] = product;
        }
        return acp;
    }

    /** The exact denoiser for clean latents x0 (t may be fractional: sigma is interpolated linearly). */
    static NoisePredictor exactDenoiser(Tensor x0, String prediction) {
        double[] acp = alphasCumprod();
        return (x, t) -> {
            int lo = (int) Math.floor(t);
            int hi = Math.min(lo + 1, 999);
            double sLo = Math.sqrt((1 - acp[lo]) / acp[lo]), sHi = Math.sqrt((1 - acp[hi]) / acp[hi]);
            double sigma = sLo + (sHi - sLo) * (t - lo);
            double alpha = 1 / (1 + sigma * sigma);
            double sa = Math.sqrt(alpha), sb = Math.sqrt(1 - alpha);
            float[] out = new float[x.data.length];
            for (int i = 0; i < out.length; i++) {
                double eps = (x.data[i] - sa * x0.data[i]) / sb;
                out[i] = (float) switch (prediction) {
                    case "epsilon" -> eps;
                    case "v_prediction" -> sa * eps - sb * x0.data[i];
                    default -> x0.data[i];
                };
            }
            return new Tensor(out, x.shape);
        };
    }

    private static Tensor cleanLatents() {
        return Elementwise.mul(0.7f, new TorchCpuRandom(1).randn(SHAPE));
    }

    static Stream<Arguments> samplersAndPredictions() {
        List<Arguments> out = new ArrayList<>();
        for (SamplerId id : SamplerId.values()) {
            out.add(Arguments.of(id, "epsilon"));
            // PNDM combines raw v outputs of different timesteps before converting them with the
            // current one, so it is exact for epsilon only (and takes no x0 prediction at all)
            if (id == SamplerId.PNDM) continue;
            out.add(Arguments.of(id, "v_prediction"));
            out.add(Arguments.of(id, "sample"));
        }
        return out.stream();
    }

    @ParameterizedTest
    @MethodSource("samplersAndPredictions")
    void txt2imgWithAnExactDenoiserEndsAtTheCleanLatents(SamplerId id, String prediction) {
        Tensor x0 = cleanLatents();
        Sampler sampler = Samplers.create(id, config(prediction), 10);
        TorchCpuRandom rng = new TorchCpuRandom(42);
        Tensor out = sampler.sample(exactDenoiser(x0, prediction), rng.randn(SHAPE), rng, null);
        assertThat(Fixtures.relativeError(out.data, x0.data)).as(id + " " + prediction).isLessThan(1e-4);
    }

    /**
     * Two diffusers schedulers are not exact from a truncated schedule, and we keep them so: LMS takes its
     * order from the absolute step index (order 4 with one stored derivative), PLMS's repeated first
     * step is missing, so it treats latents at one level as the next.
     */
    @ParameterizedTest
    @EnumSource(value = SamplerId.class, names = {"LMS", "PNDM"}, mode = EnumSource.Mode.EXCLUDE)
    void img2imgFromAddNoiseEndsAtTheCleanLatents(SamplerId id) {
        Tensor x0 = cleanLatents();
        Sampler sampler = Samplers.create(id, config("epsilon"), 10);
        int start = sampler.startIndex(0.6);
        assertThat(start).isEqualTo(4 * sampler.order());
        TorchCpuRandom rng = new TorchCpuRandom(7);
        Tensor noisy = sampler.addNoise(x0, rng.randn(SHAPE), start);
        assertThat(Fixtures.relativeError(noisy.data, x0.data)).as("noise was added").isGreaterThan(0.05);
        Tensor out = sampler.denoise(exactDenoiser(x0, "epsilon"), noisy, start, rng, null, null);
        assertThat(Fixtures.relativeError(out.data, x0.data)).as(id.id).isLessThan(1e-4);
    }

    /** A noise source that records the shape of every draw. */
    static final class RecordingNoise implements NoiseSource {
        final TorchCpuRandom rng = new TorchCpuRandom(3);
        final List<int[]> draws = new ArrayList<>();

        @Override
        public Tensor randn(int... shape) {
            draws.add(shape.clone());
            return rng.randn(shape);
        }
    }

    @ParameterizedTest
    @EnumSource(SamplerId.class)
    void noiseIsDrawnWhereDiffusersDrawsIt(SamplerId id) {
        int steps = 6;
        Sampler sampler = Samplers.create(id, config("epsilon"), steps);
        RecordingNoise noise = new RecordingNoise();
        sampler.denoise(exactDenoiser(cleanLatents(), "epsilon"), noise.rng.randn(SHAPE), 0, noise, null, null);
        // euler_a and the SDE solver draw once per step, the last included; LCM at every step but the last
        int expected = switch (id) {
            case EULER_A, DPMPP_2M_SDE_KARRAS -> steps;
            case LCM -> steps - 1;
            default -> 0;
        };
        assertThat(noise.draws).as(id.id).hasSize(expected);
        noise.draws.forEach(shape -> assertThat(shape).containsExactly(SHAPE));
    }

    @Test
    void evaluationCountsFollowTheSchedulers() {
        SchedulerConfig c = config("epsilon");
        assertThat(Samplers.create(SamplerId.HEUN, c, 5).timesteps()).hasSize(9);
        assertThat(Samplers.create(SamplerId.DPM2, c, 5).timesteps()).hasSize(9);
        // PLMS repeats its first timestep
        assertThat(Samplers.create(SamplerId.PNDM, c, 5).timesteps()).hasSize(6);
        // without skip_prk_steps PNDM starts with three Runge-Kutta steps of four evaluations
        SchedulerConfig prk = c.with("skip_prk_steps", "false");
        assertThat(Samplers.create(SamplerId.PNDM, prk, 5).timesteps()).hasSize(12 + 2);
        for (SamplerId id : List.of(SamplerId.DDIM, SamplerId.EULER, SamplerId.EULER_A, SamplerId.LMS,
                SamplerId.DPMPP_2M, SamplerId.DPMPP_2M_KARRAS, SamplerId.DPMPP_2M_SDE_KARRAS, SamplerId.UNIPC,
                SamplerId.LCM)) {
            assertThat(Samplers.create(id, c, 5).timesteps()).as(id.id).hasSize(5);
        }
    }

    @Test
    void pndmWithRungeKuttaStepsAlsoEndsNearTheCleanLatents() {
        Tensor x0 = cleanLatents();
        Sampler sampler = Samplers.create(SamplerId.PNDM, config("epsilon").with("skip_prk_steps", "false"), 8);
        TorchCpuRandom rng = new TorchCpuRandom(5);
        Tensor out = sampler.sample(exactDenoiser(x0, "epsilon"), rng.randn(SHAPE), rng, null);
        // the Runge-Kutta half steps go down by (T/n)//2 but evaluate at the rounded-up midpoint
        // (876 → 814, evaluated at 813), so even an exact denoiser leaves a small residue
        assertThat(Fixtures.relativeError(out.data, x0.data)).isLessThan(1e-3);
    }

    @Test
    void initialNoiseIsScaledBySigmaMaxOrItsVariancePreservingForm() {
        SchedulerConfig linspace = config("epsilon");
        Sampler euler = Samplers.create(SamplerId.EULER, linspace, 4);
        assertThat(euler.initNoiseSigma()).isEqualTo(euler.sigmas()[0]);
        assertThat(Samplers.create(SamplerId.DDIM, linspace, 4).initNoiseSigma()).isEqualTo(1f);
        // with "leading" spacing (the SDXL config) the first timestep is below T-1 and diffusers
        // scales by sqrt(sigma_max² + 1)
        Sampler leading = Samplers.create(SamplerId.EULER, linspace.with("timestep_spacing", "leading"), 4);
        float s = leading.sigmas()[0];
        assertThat(leading.timesteps()[0]).isEqualTo(751.0);
        assertThat(leading.initNoiseSigma()).isEqualTo((float) Math.sqrt(s * s + 1f));
    }

    @Test
    void listenerSeesEveryEvaluationAndCanStop() {
        Tensor x0 = cleanLatents();
        Sampler sampler = Samplers.create(SamplerId.HEUN, config("epsilon"), 4);
        List<String> seen = new ArrayList<>();
        TorchCpuRandom rng = new TorchCpuRandom(9);
        sampler.sample(exactDenoiser(x0, "epsilon"), rng.randn(SHAPE), rng,
                (step, total, latents) -> seen.add(step + "/" + total));
        assertThat(seen).containsExactly("1/7", "2/7", "3/7", "4/7", "5/7", "6/7", "7/7");

        List<Integer> calls = new ArrayList<>();
        NoisePredictor counting = (x, t) -> {
            calls.add(1);
            return exactDenoiser(x0, "epsilon").predict(x, t);
        };
        sampler.sample(counting, rng.randn(SHAPE), rng, (step, total, latents) -> step < 2);
        assertThat(calls).hasSize(2);
    }

    @Test
    void hookRunsAfterEveryStepWithItsIndex() {
        Sampler sampler = Samplers.create(SamplerId.DDIM, config("epsilon"), 10);
        int start = sampler.startIndex(0.5);
        List<Integer> indices = new ArrayList<>();
        TorchCpuRandom rng = new TorchCpuRandom(2);
        Tensor x0 = cleanLatents();
        sampler.denoise(exactDenoiser(x0, "epsilon"), sampler.addNoise(x0, rng.randn(SHAPE), start), start, rng,
                (index, latents) -> {
                    indices.add(index);
                    return latents;
                }, null);
        assertThat(indices).containsExactly(5, 6, 7, 8, 9);
    }

    @Test
    void samplerNamesParseAsIdsOrA1111Names() {
        assertThat(SamplerId.parse("euler_a")).isEqualTo(SamplerId.EULER_A);
        assertThat(SamplerId.parse("Euler a")).isEqualTo(SamplerId.EULER_A);
        assertThat(SamplerId.parse("EULER A")).isEqualTo(SamplerId.EULER_A);
        assertThat(SamplerId.parse("PLMS")).isEqualTo(SamplerId.PNDM);
        assertThat(SamplerId.parse("dpm++ 2m sde karras")).isEqualTo(SamplerId.DPMPP_2M_SDE_KARRAS);
        assertThat(SamplerId.parse(" DDIM ")).isEqualTo(SamplerId.DDIM);
        assertThatThrownBy(() -> SamplerId.parse("euler_b"))
                .isInstanceOf(JDiffusionException.class)
                .hasMessageContaining("euler_b")
                .hasMessageContaining("ddim, pndm, euler, euler_a, lms, heun, dpm2, dpmpp_2m, dpmpp_2m_karras, "
                        + "dpmpp_2m_sde_karras, unipc, lcm");
    }

    @Test
    void keysDiffusersFilledWithDefaultsDoNotOverrideTheSamplersOwn() throws Exception {
        // a config saved from PNDMScheduler: its "leading" spacing was a default, not the author's choice
        SchedulerConfig saved = SchedulerConfig.fromJson(io.jdiffusion.model.Json.MAPPER.readTree(
                "{\"timestep_spacing\": \"leading\", \"steps_offset\": 1, "
                        + "\"_use_default_values\": [\"timestep_spacing\"]}"));
        assertThat(saved.has("timestep_spacing")).isFalse();
        assertThat(saved.has("_use_default_values")).isFalse();
        assertThat(saved.intOr("steps_offset", 0)).isEqualTo(1);
        assertThat(Samplers.create(SamplerId.EULER, saved, 4).timesteps()).containsExactly(999, 666, 333, 0);
        assertThat(Samplers.create(SamplerId.DDIM, saved, 4).timesteps()).containsExactly(751, 501, 251, 1);
    }

    @Test
    void badSettingsAreUserErrors() {
        SchedulerConfig c = config("epsilon");
        assertThatThrownBy(() -> Samplers.create(SamplerId.EULER, c, 0)).isInstanceOf(JDiffusionException.class);
        assertThatThrownBy(() -> Samplers.create(SamplerId.LCM, c, 51))
                .isInstanceOf(JDiffusionException.class).hasMessageContaining("original_inference_steps");
        assertThatThrownBy(() -> Samplers.create(SamplerId.EULER, c.with("prediction_type", "flow"), 4))
                .isInstanceOf(JDiffusionException.class).hasMessageContaining("prediction_type");
        assertThatThrownBy(() -> Samplers.create(SamplerId.DDIM, c.with("beta_schedule", "cubic"), 4))
                .isInstanceOf(JDiffusionException.class).hasMessageContaining("beta_schedule");
        Sampler s = Samplers.create(SamplerId.EULER, c, 4);
        assertThatThrownBy(() -> s.startIndex(0)).isInstanceOf(JDiffusionException.class);
    }
}
