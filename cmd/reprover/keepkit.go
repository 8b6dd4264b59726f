package main

import (
	"context"
	"fmt"

	"github.com/reprover/reprover/kit"
	"github.com/reprover/reprover/verify"
)

// keptKit is where verify --kit-out and --push-kit keep the kit of a
// verification whose downloads all matched their pins.
type keptKit struct {
	out  string
	push bool
}

func (k keptKit) wanted() bool { return k.out != "" || k.push }

// keep keeps the release's kit of a verification (verify.KeepKit) and
// writes or pushes it.
func (k keptKit) keep(ctx context.Context, g *globals, rep *verify.Report, req verify.Request, opts verify.Options) error {
	made, repo, err := verify.KeepKit(ctx, rep, req, opts)
	if err != nil {
		return err
	}
	defer made.Close()
	if k.push && repo == "" {
		return fmt.Errorf("--push-kit: %s is not in a registry", req.Image)
	}
	return writeKit(ctx, g, made, k.out, k.push, repo, kit.Options{InsecureRegistries: opts.Image.InsecureRegistries, Limits: opts.Inputs.Kit})
}

// writeKit writes a kit to out (oci:DIR, oci-archive:FILE) and pushes it
// to repo as a referrer of its image, as asked, saying each on stdout.
func writeKit(ctx context.Context, g *globals, k *kit.Kit, out string, push bool, repo string, o kit.Options) error {
	if out != "" {
		if err := k.WriteTo(ctx, out); err != nil {
			return err
		}
		fmt.Fprintf(g.stdout, "wrote kit %s to %s\n", k.Digest(), out)
	}
	if push {
		ref, err := k.Push(ctx, repo, o)
		if err != nil {
			return err
		}
		fmt.Fprintf(g.stdout, "pushed kit %s\n", ref)
	}
	return nil
}
