package io.jdiffusion.sampling;

import io.jdiffusion.JDiffusionException;

import java.util.Arrays;
import java.util.Locale;
import java.util.stream.Collectors;

/**
 * The samplers, each the computation of one diffusers scheduler: an id (as in the fixtures) and the
 * name A1111 shows for it. {@link #parse} accepts either, case-insensitively.
 */
public enum SamplerId {
    DDIM("ddim", "DDIM"),
    PNDM("pndm", "PLMS"),
    EULER("euler", "Euler"),
    EULER_A("euler_a", "Euler a"),
    LMS("lms", "LMS"),
    HEUN("heun", "Heun"),
    DPM2("dpm2", "DPM2"),
    DPMPP_2M("dpmpp_2m", "DPM++ 2M"),
    DPMPP_2M_KARRAS("dpmpp_2m_karras", "DPM++ 2M Karras"),
    DPMPP_2M_SDE_KARRAS("dpmpp_2m_sde_karras", "DPM++ 2M SDE Karras"),
    UNIPC("unipc", "UniPC"),
    LCM("lcm", "LCM");

    public final String id;
    public final String displayName;

    SamplerId(String id, String displayName) {
        this.id = id;
        this.displayName = displayName;
    }

    public static SamplerId parse(String name) {
        String n = name == null ? "" : name.trim().toLowerCase(Locale.ROOT);
        for (SamplerId s : values()) {
            if (s.id.equals(n) || s.displayName.toLowerCase(Locale.ROOT).equals(n)) return s;
        }
        throw new JDiffusionException("sampler '" + name + "' is unknown; valid: "
                + Arrays.stream(values()).map(s -> s.id).collect(Collectors.joining(", ")));
    }

    @Override
    public String toString() {
        return id;
    }
}
