package io.jdiffusion.sampling;

/**
 * Creates samplers. The model's scheduler config supplies the training schedule and every key it
 * names; keys it lacks take the chosen scheduler's own defaults, as diffusers' from_config does (so on
 * SD 1.x ddim and pndm space their timesteps "leading" and the others "linspace").
 */
public final class Samplers {
    private Samplers() {
    }

    public static Sampler create(SamplerId id, SchedulerConfig config, int steps) {
        return switch (id) {
            case DDIM -> new DdimSampler(config, steps);
            case PNDM -> new PndmSampler(config, steps);
            case EULER -> new EulerSampler(config, steps);
            case EULER_A -> new EulerAncestralSampler(config, steps);
            case LMS -> new LmsSampler(config, steps);
            case HEUN -> new HeunSampler(config, steps);
            case DPM2 -> new Dpm2Sampler(config, steps);
            case DPMPP_2M -> new DpmSolverSampler(config, steps, false, false);
            case DPMPP_2M_KARRAS -> new DpmSolverSampler(config, steps, true, false);
            case DPMPP_2M_SDE_KARRAS -> new DpmSolverSampler(config, steps, true, true);
            case UNIPC -> new UniPcSampler(config, steps);
            case LCM -> new LcmSampler(config, steps);
        };
    }

    public static Sampler create(String name, SchedulerConfig config, int steps) {
        return create(SamplerId.parse(name), config, steps);
    }
}
