package io.jdiffusion.tensor;

import io.jdiffusion.io.SafeTensors;
import io.jdiffusion.model.ModelLoader;
import io.jdiffusion.model.StableDiffusionModel;
import io.jdiffusion.model.unet.UNet;
import io.jdiffusion.model.vae.Vae;
import io.jdiffusion.model.vae.VaeTiling;
import io.jdiffusion.testing.Fixtures;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.util.concurrent.CompletableFuture;

import static org.assertj.core.api.Assertions.assertThat;

class WorkspaceTest {

    @AfterEach
    void noPoison() {
        Workspace.poison = false;
    }

    @Test
    void arraysComeBackWhenTheirScopeClosesAndAreHandedOutAgain() {
        Workspace ws = new Workspace();
        float[] first, kept;
        try (Workspace.Scope call = ws.enter()) {
            try (Workspace.Scope block = Workspace.scope()) {
                first = Workspace.floats(100);
                kept = block.keep(new Tensor(Workspace.floats(100), 100)).data;
            }
            // the block's temporary is free again, its result is not
            float[] again = Workspace.floats(100);
            assertThat(again).isSameAs(first);
            assertThat(Workspace.floats(100)).isNotSameAs(kept).isNotSameAs(first);
            assertThat(Workspace.floats(99)).hasSize(99);
        }
        assertThat(ws.heldBytes()).isEqualTo(4L * (100 + 100 + 100 + 99));
        // the next call gets the same arrays back: nothing new
        try (Workspace.Scope call = ws.enter()) {
            for (int i = 0; i < 3; i++) Workspace.floats(100);
            Workspace.floats(99);
        }
        assertThat(ws.heldBytes()).isEqualTo(4L * 399);
        ws.clear();
        assertThat(ws.heldBytes()).isZero();
    }

    @Test
    void aOneCallWorkspaceLetsOtherLengthsGoWhenItMustMakeAnArray() {
        Workspace ws = Workspace.forOneCall();
        try (Workspace.Scope call = ws.enter()) {
            float[] small = Workspace.floats(10);
            Workspace.release(new Tensor(small, 10));
            assertThat(Workspace.floats(10)).isSameAs(small); // same length: reused
            Workspace.release(new Tensor(small, 10));
            Workspace.floats(20);                              // a new length: the free 10 is let go
            assertThat(ws.heldBytes()).isEqualTo(4L * 20);
            assertThat(Workspace.floats(10)).isNotSameAs(small);
        }
        // a workspace for repeated calls keeps it
        Workspace kept = new Workspace();
        try (Workspace.Scope call = kept.enter()) {
            Workspace.release(new Tensor(Workspace.floats(10), 10));
            Workspace.floats(20);
            assertThat(kept.heldBytes()).isEqualTo(4L * 30);
        }
    }

    @Test
    void releaseHandsBackOnlyTheInnermostScopesArrays() {
        Workspace ws = new Workspace();
        Tensor input = new Tensor(new float[8], 8);
        try (Workspace.Scope call = ws.enter()) {
            Tensor outer = new Tensor(Workspace.floats(8), 8);
            try (Workspace.Scope block = Workspace.scope()) {
                Workspace.release(outer);   // not this scope's: left alone
                Workspace.release(input);   // not the workspace's at all
                Tensor inner = new Tensor(Workspace.floats(8), 8);
                assertThat(inner.data).isNotSameAs(outer.data).isNotSameAs(input.data);
                Workspace.release(inner);
                assertThat(Workspace.floats(8)).isSameAs(inner.data);
            }
            Workspace.release(outer);
            assertThat(Workspace.floats(8)).isSameAs(outer.data);
        }
    }

    @Test
    void outsideAWorkspaceEverythingIsPlainAllocation() {
        try (Workspace.Scope s = Workspace.scope()) {
            float[] a = Workspace.floats(16);
            Workspace.release(new Tensor(a, 16));
            assertThat(Workspace.floats(16)).isNotSameAs(a);
        }
        Workspace ws = new Workspace();
        try (Workspace.Scope call = ws.enter()) {
            float[] pooled = Workspace.floats(16);
            Workspace.release(new Tensor(pooled, 16));
            // a cache made inside the call must not come from the pool
            float[] cached = Workspace.unpooled(() -> Workspace.floats(16));
            assertThat(cached).isNotSameAs(pooled);
            assertThat(Workspace.floats(16)).isSameAs(pooled);
            // a second thread does not share the workspace
            float[] other = CompletableFuture.supplyAsync(() -> {
                try (Workspace.Scope c = ws.enter()) {
                    return Workspace.floats(16);
                }
            }).join();
            assertThat(other).isNotSameAs(pooled);
        }
        assertThat(ws.heldBytes()).isEqualTo(4L * 16);
    }

    @Test
    void zerosAreZeroEvenWhenReused() {
        Workspace ws = new Workspace();
        try (Workspace.Scope call = ws.enter()) {
            float[] a = Workspace.floats(5);
            java.util.Arrays.fill(a, 3f);
            Workspace.release(new Tensor(a, 5));
            float[] z = Workspace.zeros(5);
            assertThat(z).isSameAs(a).containsOnly(0f);
        }
    }

    /**
     * Step after step through one workspace whose arrays are handed out full of NaN: every op must write all of
     * its output (a reused array holds the last step's values, not zeros), and no array may be used after
     * going back. Each call must still equal diffusers' output, and after the first call no new array is made.
     */
    @Test
    void unetCallsReuseTheirFeatureMapsAndStillMatchDiffusers() {
        StableDiffusionModel model = ModelLoader.load(Fixtures.tinySd15());
        Fixtures.UNetCall ref = Fixtures.tinySd15UNetCall();
        UNet unet = new UNet(model.unetConfig(), model.unet());
        Workspace.poison = true;

        long heldAfterFirst = -1;
        for (int call = 0; call < 3; call++) {
            Tensor out = unet.forward(ref.sample(), ref.timestep(), ref.encoderHiddenStates());
            assertThat(Fixtures.relativeError(out.data, ref.out().data)).as("call " + call).isLessThanOrEqualTo(1e-4);
            if (call == 0) heldAfterFirst = unet.workspaceBytes();
            else assertThat(unet.workspaceBytes()).as("arrays after call " + call).isEqualTo(heldAfterFirst);
        }
        assertThat(heldAfterFirst).isPositive();
        unet.releaseBuffers();
        assertThat(unet.workspaceBytes()).isZero();
    }

    /** The decoder's feature maps go through its workspace the same way, untiled and tile by tile. */
    @Test
    void vaeDecodesThroughItsWorkspaceAsDiffusers() {
        StableDiffusionModel model = ModelLoader.load(Fixtures.tinySd15());
        SafeTensors ref = Fixtures.tensors("tiny-sd15-ref/vae.safetensors");
        Tensor z = Fixtures.tensor(ref, "z");
        Tensor expected = Fixtures.tensor(ref, "decoded");
        Vae vae = new Vae(model.vaeConfig(), model.vae());
        Tensor tiledBefore = vae.decode(z, new VaeTiling(z.dim(2) / 2 + 1, 2));
        Workspace.poison = true;

        for (int call = 0; call < 2; call++) {
            Tensor decoded = vae.decode(z);
            assertThat(Fixtures.relativeError(decoded.data, expected.data)).as("call " + call).isLessThanOrEqualTo(1e-4);
        }
        assertThat(vae.decode(z, new VaeTiling(z.dim(2) / 2 + 1, 2)).data).containsExactly(tiledBefore.data);
    }
}
