package builder

import (
	"fmt"
	"strconv"

	"github.com/containerd/platforms"
	"github.com/moby/buildkit/util/system"
	ocispecs "github.com/opencontainers/image-spec/specs-go/v1"
)

// platformArgs are the platforms BuildKit's automatic ARGs describe
// (dockerfile2llb's defaultArgs): the target's and the worker's, each
// either given or assumed (linux/amd64), when every value taken from it
// is unknown to Check.
type platformArgs struct {
	target, build           ocispecs.Platform
	targetKnown, buildKnown bool
}

// assumedPlatform stands for a platform not given.
var assumedPlatform = ocispecs.Platform{OS: "linux", Architecture: "amd64"}

// checkPlatforms are the platforms Check judges a Dockerfile for: each of
// o.Platforms, or linux/amd64 standing for any.
func checkPlatforms(o CheckOptions) ([]platformArgs, error) {
	build, buildKnown := assumedPlatform, o.BuildPlatform != ""
	if buildKnown {
		p, err := platforms.Parse(o.BuildPlatform)
		if err != nil {
			return nil, fmt.Errorf("build platform %q: %w", o.BuildPlatform, err)
		}
		build = platforms.Normalize(p)
	}
	if len(o.Platforms) == 0 {
		return []platformArgs{{target: assumedPlatform, build: build, buildKnown: buildKnown}}, nil
	}
	var out []platformArgs
	for _, s := range o.Platforms {
		p, err := platforms.Parse(s)
		if err != nil {
			return nil, fmt.Errorf("platform %q: %w", s, err)
		}
		out = append(out, platformArgs{target: platforms.Normalize(p), targetKnown: true, build: build, buildKnown: buildKnown})
	}
	return out, nil
}

// set puts the automatic ARGs in the global scope, as BuildKit does before
// the meta ARGs: a build arg of the same name replaces its value, as in
// BuildKit (builder.Params refuses such build args).
func (p platformArgs) set(meta *argScope, target string) {
	if target == "" {
		target = "default"
	}
	known := func(ok bool, name, v string) {
		u := value{v: v}
		if !ok {
			u.unknown = []string{name}
		}
		if b, given := meta.buildArgs[name]; given {
			u = value{v: b}
		}
		meta.vals[name] = u
	}
	bp, tp := p.build, p.target
	known(p.buildKnown, "BUILDPLATFORM", platforms.Format(bp))
	known(p.buildKnown, "BUILDOS", bp.OS)
	known(p.buildKnown, "BUILDOSVERSION", bp.OSVersion)
	known(p.buildKnown, "BUILDARCH", bp.Architecture)
	known(p.buildKnown, "BUILDVARIANT", bp.Variant)
	known(p.targetKnown, "TARGETPLATFORM", platforms.FormatAll(tp))
	known(p.targetKnown, "TARGETOS", tp.OS)
	known(p.targetKnown, "TARGETOSVERSION", tp.OSVersion)
	known(p.targetKnown, "TARGETARCH", tp.Architecture)
	known(p.targetKnown, "TARGETVARIANT", tp.Variant)
	known(true, "TARGETSTAGE", target)
}

// path is PATH in a stage from scratch (BuildKit's emptyImage): the
// default for the target's OS, none for Windows.
func (p platformArgs) path() value {
	if p.target.OS == "windows" {
		return value{}
	}
	v := value{v: system.DefaultPathEnv(p.target.OS)}
	if !p.targetKnown {
		v.unknown = []string{"TARGETOS"}
	}
	return v
}

// merge adds what another platform's check found.
func (c *checker) merge(o *checker) {
	for _, v := range o.vs {
		c.report(v.Rule, v.Line, v.Message)
	}
	for _, w := range o.in.Warnings {
		if c.first("warning", fmt.Sprint(w)) {
			c.in.Warnings = append(c.in.Warnings, w)
		}
	}
	for _, b := range o.in.Bases {
		c.addBase(b.Ref)
	}
	for _, d := range o.in.Downloads {
		c.addDownload(d)
	}
	for _, r := range o.in.RunDownloads {
		if c.first("run", strconv.Itoa(r.Line)) {
			c.in.RunDownloads = append(c.in.RunDownloads, r)
		}
	}
	for _, a := range o.in.Args {
		c.declareArg(a)
	}
}
