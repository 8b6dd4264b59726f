package main

import (
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/reprover/reprover/image"
	"github.com/reprover/reprover/internal/files"
	"github.com/reprover/reprover/internal/limits"
	"github.com/reprover/reprover/kit"
	"github.com/reprover/reprover/pins"
	"github.com/reprover/reprover/verify"
)

type kitFlags struct {
	image, out, source, commit, lock string
	push, withBases                  bool
	allowHosts, insecure             []string
	lim                              limitFlags
	kitLim                           kit.Limits
	imageLim                         image.Limits
	lockLim                          pins.Limits
}

func newKitCmd(g *globals) *cobra.Command {
	var f kitFlags
	cmd := &cobra.Command{
		Use:   "kit --image IMAGE [--out oci:DIR|oci-archive:FILE] [--push]",
		Short: "Keep a release's pinned downloads (and its source) as an OCI artifact, so it stays verifiable",
		Long: `Fetch every download the published image's provenance pins (or --lock FILE's),
check each against its pin before keeping it, and write them as a kit
(docs/kit.md): an OCI artifact whose subject is the image, written to --out
and/or pushed to the image's repository as a referrer (--push), where
reprover verify finds it. --source DIR also keeps the tree of a git
checkout at the release's commit (--commit), for verifiers that cannot
reach the source host. Loopback, private and link-local download hosts are
reached only when named by --allow-download-host.

Exit status: 0 kept; 2 a download does not match its pin (naming the URL
and both digests: nothing is written or pushed), or the kit could not be
made.`,
		Args: withUsage(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error { return f.run(cmd, g) },
	}
	fl := cmd.Flags()
	fl.StringVar(&f.image, "image", "", "the published image (HOST/REPO[:TAG|@sha256:…], oci:DIR, oci-archive:FILE)")
	fl.StringVar(&f.out, "out", "", "write the kit to oci:DIR (a new or empty directory) or oci-archive:FILE")
	fl.BoolVar(&f.push, "push", false, "push the kit to the image's repository as a referrer of the image")
	fl.BoolVar(&f.withBases, "with-bases", false, "also keep the base images the provenance names (for the release's platforms), so a base its registry deleted does not matter")
	fl.StringArrayVar(&f.allowHosts, "allow-download-host", nil, "a loopback, private or link-local host downloads may come from (an internal mirror); repeatable")
	fl.StringVar(&f.source, "source", "", "a git checkout of the source: its tree at the commit is kept in the kit")
	fl.StringVar(&f.commit, "commit", "", "the commit of --source to keep (default: the provenance's, else HEAD)")
	fl.StringVar(&f.lock, "lock", "", "take the pins from this lock file (reprover.lock.json) instead of the image's provenance")
	fl.StringArrayVar(&f.insecure, "insecure-registry", nil, "registry host reached over plain HTTP (loopback always is); repeatable")
	f.lim.register(cmd, [][]limits.Field{limitsOf("image", &f.imageLim, image.DefaultLimits)}, kitLimits(&f.kitLim),
		[][]limits.Field{limitsOf("lock", &f.lockLim, pins.DefaultLimits)})
	return cmd
}

func (f *kitFlags) run(cmd *cobra.Command, g *globals) error {
	// Arguments first: nothing is fetched for a request that cannot run.
	if err := f.lim.apply(); err != nil {
		return err
	}
	if err := f.check(); err != nil {
		return err
	}
	ctx := cmd.Context()
	opts := verify.Options{Image: image.Options{InsecureRegistries: f.insecure, Limits: f.imageLim}, Logger: g.logger()}
	in, err := verify.ReadKitInputs(ctx, f.image, opts)
	if err != nil {
		return err
	}
	if f.push && in.Repository == "" {
		return fmt.Errorf("--push: %s is not in a registry", f.image)
	}
	if f.lock != "" {
		l, err := pins.ReadLockFile(f.lock, "", f.lockLim)
		if err != nil {
			return err
		}
		in.Pins = l.Downloads
	}
	if len(in.Pins) == 0 && f.source == "" && !f.withBases {
		return fmt.Errorf("%s: its provenance pins no download, and neither --source nor --with-bases was given: a kit would hold nothing", f.image)
	}
	commit := f.commit
	if commit == "" {
		commit = in.Params.Commit
	}
	mo := kit.MakeOptions{Subject: in.Subject, Name: in.Repository, Pins: in.Pins, Params: in.Params,
		SourceDir: f.source, Commit: commit, AllowHosts: f.allowHosts, Limits: f.kitLim, Logger: g.logger()}
	if f.withBases {
		if mo.Bases, err = verify.KitBases(ctx, f.image, opts); err != nil {
			return err
		}
		mo.Registry = kit.Options{InsecureRegistries: f.insecure}
	}
	k, err := kit.Make(ctx, mo)
	if err != nil {
		return err
	}
	defer k.Close()
	what := fmt.Sprintf("%d download(s)", len(k.Config.Downloads))
	if s := k.Config.Source; s != nil {
		what += ", source at " + s.Commit
	}
	if n := len(k.Config.Bases); n > 0 {
		what += fmt.Sprintf(", %d base image(s)", n)
	}
	fmt.Fprintf(g.stdout, "kit %s for %s: %s\n", k.Digest(), in.Subject.Digest, what)
	if f.out != "" {
		if err := k.WriteTo(ctx, f.out); err != nil {
			return err
		}
		fmt.Fprintf(g.stdout, "wrote %s\n", f.out)
	}
	if f.push {
		ref, err := k.Push(ctx, in.Repository, kit.Options{InsecureRegistries: f.insecure, Limits: f.kitLim})
		if err != nil {
			return err
		}
		fmt.Fprintf(g.stdout, "pushed %s\n", ref)
	}
	return nil
}

// check refuses what cannot run before anything is fetched.
func (f *kitFlags) check() error {
	switch {
	case f.image == "":
		return fmt.Errorf("--image: the published image is required")
	case f.out == "" && !f.push:
		return fmt.Errorf("nothing to do: give --out oci:DIR|oci-archive:FILE, --push, or both")
	case f.commit != "" && f.source == "":
		return fmt.Errorf("--commit: only with --source")
	}
	if f.source != "" {
		if st, err := os.Stat(f.source); err != nil || !st.IsDir() {
			return fmt.Errorf("--source %s: not a directory", f.source)
		}
	}
	if f.out == "" {
		return nil
	}
	r, err := image.ParseReference(f.out)
	if err != nil || r.Transport == image.Registry || r.Tag != "" || r.Pinned() {
		return fmt.Errorf("--out %s: want oci:DIR or oci-archive:FILE (use --push for a registry)", f.out)
	}
	if r.Transport == image.Archive {
		if err := files.Writable(r.Name); err != nil {
			return fmt.Errorf("--out %s: %w", f.out, err)
		}
	} else if ents, err := os.ReadDir(r.Name); err == nil && len(ents) > 0 {
		return fmt.Errorf("--out %s: the directory is not empty", f.out)
	}
	if strings.HasSuffix(f.out, ":") {
		return fmt.Errorf("--out %s: name a directory or file", f.out)
	}
	return nil
}
