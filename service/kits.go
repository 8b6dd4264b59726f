package service

import (
	"context"
	"log/slog"
	"os"

	"github.com/reprover/reprover/kit"
	"github.com/reprover/reprover/verify"
)

// keepKit keeps the kit of a verification whose downloads all matched
// their pins (verify.KeepKit), in KitDir and/or pushed as a referrer, so
// that every later verification of the image replays it (docs/kit.md).
// Nothing is kept for any other verification, nor when the image already
// has a kit; a kit that cannot be kept is logged, and the verification's
// outcome stands.
func (p *PipelineRunner) keepKit(ctx context.Context, rep *verify.Report, req verify.Request, opts verify.Options) {
	if p.KitDir == "" && !p.PushKits {
		return
	}
	if rep.Build == nil || rep.Build.Kit != nil || rep.Build.Pins == nil || !rep.InputsAsReleased() || !rep.Verified(false) || rep.Published == nil {
		return
	}
	if p.KitDir != "" && verify.StoredKit(p.KitDir, rep.Published.Digest) != "" {
		return
	}
	k, repo, err := verify.KeepKit(ctx, rep, req, opts)
	if err != nil {
		p.logger().Warn("no kit kept", "image", rep.Published.Digest, "error", err)
		return
	}
	defer k.Close()
	if p.KitDir != "" {
		if err := storeKit(ctx, k, p.KitDir, rep.Published.Digest); err != nil {
			p.logger().Warn("storing the kit", "image", rep.Published.Digest, "kit", k.Digest(), "error", err)
		}
	}
	if p.PushKits && repo != "" {
		if _, err := k.Push(ctx, repo, kit.Options{InsecureRegistries: opts.Image.InsecureRegistries, Keychain: opts.Image.Keychain, Transport: opts.Image.Transport}); err != nil {
			p.logger().Warn("pushing the kit", "image", rep.Published.Digest, "kit", k.Digest(), "error", err)
		}
	}
}

// storeKit writes k as the oci-archive verify.StoredKit finds for the
// image digest. Kit.WriteTo writes it beside its place and renames it
// there, so a reader never sees half a kit, and refuses a symlink or FIFO
// at the path.
func storeKit(ctx context.Context, k *kit.Kit, dir, digest string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	return k.WriteTo(ctx, "oci-archive:"+verify.StoredKitPath(dir, digest))
}

func (p *PipelineRunner) logger() *slog.Logger {
	if p.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return p.Logger
}
