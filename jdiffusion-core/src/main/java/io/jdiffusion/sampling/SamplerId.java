package io.jdiffusion.sampling;

import io.jdiffusion.JDiffusionException;

import java.util.Arrays;
import java.util.Locale;
import java.util.stream.Collectors;

/**
 * The samplers, each the computation of one diffusers scheduler: an id (as in the fixtures) and how
 * A1111 names it: a sampler name plus a schedule type ("Automatic" = the sampler's own, "Karras").
 * {@link #parse} accepts the id, A1111's combined name ("DPM++ 2M Karras") or its sampler name.
 */
public enum SamplerId {
    DDIM("ddim", "DDIM", "Automatic"),
    PNDM("pndm", "PLMS", "Automatic"),
    EULER("euler", "Euler", "Automatic"),
    EULER_A("euler_a", "Euler a", "Automatic"),
    LMS("lms", "LMS", "Automatic"),
    HEUN("heun", "Heun", "Automatic"),
    DPM2("dpm2", "DPM2", "Automatic"),
    DPMPP_2M("dpmpp_2m", "DPM++ 2M", "Automatic"),
    DPMPP_2M_KARRAS("dpmpp_2m_karras", "DPM++ 2M", "Karras"),
    DPMPP_2M_SDE_KARRAS("dpmpp_2m_sde_karras", "DPM++ 2M SDE", "Karras"),
    UNIPC("unipc", "UniPC", "Automatic"),
    LCM("lcm", "LCM", "Automatic");

    public final String id;
    /** A1111's sampler name ("Euler a", "DPM++ 2M"). */
    public final String a1111Name;
    /** A1111's "Schedule type" for this sampler: "Automatic" or "Karras". */
    public final String scheduleType;
    /** The combined name A1111 used before it had schedule types ("DPM++ 2M Karras"). */
    public final String displayName;

    SamplerId(String id, String a1111Name, String scheduleType) {
        this.id = id;
        this.a1111Name = a1111Name;
        this.scheduleType = scheduleType;
        this.displayName = scheduleType.equals("Automatic") ? a1111Name : a1111Name + " " + scheduleType;
    }

    /** The sampler of that id or A1111 name, case-insensitive; an unknown one lists the valid ids. */
    public static SamplerId parse(String name) {
        String n = name == null ? "" : name.trim().toLowerCase(Locale.ROOT);
        for (SamplerId s : values()) {
            if (s.id.equals(n) || s.displayName.toLowerCase(Locale.ROOT).equals(n)) return s;
        }
        throw new JDiffusionException("--sampler: unknown sampler '" + name + "' (valid: " + validIds() + ")");
    }

    /** The sampler A1111 names with this sampler name and schedule type, or null when we have none. */
    public static SamplerId fromA1111(String samplerName, String scheduleType) {
        String name = samplerName.strip();
        String schedule = scheduleType == null || scheduleType.isBlank() ? "Automatic" : scheduleType.strip();
        for (SamplerId s : values()) {
            if (s.a1111Name.equalsIgnoreCase(name) && s.scheduleType.equalsIgnoreCase(schedule)) return s;
        }
        if (schedule.equalsIgnoreCase("Automatic")) {
            for (SamplerId s : values()) {
                if (s.displayName.equalsIgnoreCase(name)) return s; // the older combined spelling
            }
        }
        return null;
    }

    public static String validIds() {
        return Arrays.stream(values()).map(s -> s.id).collect(Collectors.joining(", "));
    }

    @Override
    public String toString() {
        return id;
    }
}
