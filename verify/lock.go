package verify

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/reprover/reprover/builder"
	"github.com/reprover/reprover/internal/param"
	"github.com/reprover/reprover/pins"
)

// LockRequest is a build whose downloads reprover lock pins: the source
// directory as it is (the maintainer's working tree, before committing
// the lock) and the build parameters of the release.
type LockRequest struct {
	Dir        string
	Dockerfile string // relative to Dir; default CONTEXT/Dockerfile
	Context    string // relative to Dir; default "."
	Target     string
	BuildArgs  map[string]string
	Platforms  []string // default: the daemon's
	// AllowDownloadHosts are loopback, private or link-local hosts the
	// build may download from (an internal mirror).
	AllowDownloadHosts []string
}

// Lock builds the source once through BuildKit's capturing proxy, letting
// RUN reach any public host, and returns the lock of every download, and
// the Dockerfile's inputs. The Dockerfile must pass the rules (a rebuild
// with --network proxy applies them too).
func Lock(ctx context.Context, req LockRequest, b Builder, o Options) (*pins.Lock, *builder.Inputs, error) {
	if st, err := os.Stat(req.Dir); err != nil || !st.IsDir() {
		return nil, nil, param.Errorf("Dir", "{Dir} %s: not a directory", req.Dir)
	}
	s, err := locate(&Checkout{Dir: req.Dir, Commit: "the working tree"}, req.Context, req.Dockerfile)
	if err != nil {
		return nil, nil, err
	}
	inputs, err := checkRules(ctx, s, Request{BuildArgs: req.BuildArgs, Network: builder.NetworkProxy, AllowDownloadHosts: req.AllowDownloadHosts, Target: req.Target}, req.Platforms, o.Inputs.Check)
	if err != nil {
		return nil, nil, err
	}
	scratch, err := os.MkdirTemp("", "reprover-lock-")
	if err != nil {
		return nil, nil, err
	}
	defer os.RemoveAll(scratch)
	res, err := b.Build(ctx, builder.Spec{
		ContextDir: s.contextDir(), DockerfilePath: s.dockerfilePath(), DockerfileName: s.dockerfile,
		Target: req.Target, BuildArgs: req.BuildArgs, Platforms: req.Platforms, SourceDateEpoch: headTime(ctx, req.Dir),
		OCIMediaTypes: true, OutputDir: filepath.Join(scratch, "out"),
		Network: builder.NetworkProxy, ProxyAnyHost: true, ProxyHosts: req.AllowDownloadHosts, Only: builder.AllowedOf(inputs),
	}, progressOr(o.Progress), o.ProgressMode)
	if err != nil {
		return nil, nil, err
	}
	// ADD downloads are pinned by their own checksums, not by the lock.
	adds := map[string]bool{}
	for _, d := range inputs.Downloads {
		adds[d.URL] = true
	}
	var runs []pins.Capture
	for _, c := range res.Captures {
		if !adds[c.URL] {
			runs = append(runs, c)
		}
	}
	l, err := pins.LockOf(runs)
	return l, inputs, err
}

// headTime is the SOURCE_DATE_EPOCH of a lock build: the time of the
// directory's HEAD commit, as a release of it would use; -1 (none) when
// it is not a git repository.
func headTime(ctx context.Context, dir string) int64 {
	out, err := git(ctx, dir, "show", "-s", "--format=%ct", "HEAD")
	if err != nil {
		return -1
	}
	n, err := strconv.ParseInt(strings.TrimSpace(out), 10, 64)
	if err != nil {
		return -1
	}
	return n
}
