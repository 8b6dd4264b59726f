package verify

import (
	"cmp"
	"context"
	"fmt"
	"maps"
	"regexp"

	"github.com/reprover/reprover/builder"
	"github.com/reprover/reprover/internal/param"
)

// CheckRequest is a Dockerfile to check against the pinning rules without
// building it: in a source tree, named directly or by a bake file's
// target. Every path is confined to the tree as a rebuild's are: inside
// it, reached without a symlink, a regular file (a FIFO is refused, not
// waited on).
type CheckRequest struct {
	Dir        string            // the source tree
	Dockerfile string            // relative to Dir; "" is the bake target's, else Dockerfile
	BuildArgs  map[string]string // as the release used them; they win over the bake file's
	Network    string            // the rebuild's: builder.NetworkNone (""), or builder.NetworkProxy
	Bake       string            // the project's bake file, relative to Dir, or ""
	BakeTarget string            // "" is "default"
	BakeVars   map[string]string // the release's environment, for the bake file's variables
	// Platforms are those the release was built for (OS/ARCH[/VARIANT]):
	// BuildKit's automatic platform ARGs take each one's values. None: the
	// bake target's, else linux/amd64 with a word that depends on them
	// refused as unresolved.
	Platforms []string
	Target    string // the stage built; "" is the bake target's, else the last
	// Limits bound the reading of the bake file and the Dockerfile.
	Limits InputLimits
}

// CheckResult is a checked Dockerfile: its violations (none when it is
// hermetic) and the pinned inputs it names.
type CheckResult struct {
	Dockerfile string // the slash path, relative to the tree
	Violations builder.Violations
	Inputs     *builder.Inputs
}

// Check applies the pinning rules to the request's Dockerfile. An error is
// for a request or a Dockerfile that cannot be checked at all.
func Check(ctx context.Context, req CheckRequest) (*CheckResult, error) {
	network := req.Network
	if network == "" {
		network = builder.NetworkNone
	}
	if network != builder.NetworkNone && network != builder.NetworkProxy {
		return nil, param.Errorf("Network", "{Network} %q: want %s or %s", network, builder.NetworkNone, builder.NetworkProxy)
	}
	args := maps.Clone(req.BuildArgs)
	if args == nil {
		args = map[string]string{}
	}
	contextRel, dockerfile, fromBake := "", req.Dockerfile, false
	platforms, target := req.Platforms, req.Target
	if req.Bake != "" {
		t, err := bakeTarget(req.Dir, req.Bake, req.BakeTarget, req.BakeVars, req.Limits.Bake)
		if err != nil {
			return nil, err
		}
		contextRel = t.Context
		if len(platforms) == 0 {
			platforms = t.Platforms
		}
		target = cmp.Or(target, t.Target)
		if dockerfile == "" {
			dockerfile, fromBake = t.DockerfilePath(), true
		}
		for k, v := range t.BuildArgs() {
			if _, ok := args[k]; !ok {
				args[k] = v // a build argument given wins
			}
		}
	}
	if dockerfile == "" {
		dockerfile = "Dockerfile"
	}
	s, err := locate(&Checkout{Dir: req.Dir, Commit: "the source"}, contextRel, dockerfile)
	if err != nil {
		return nil, err
	}
	df, err := builder.ReadDockerfile(s.dockerfilePath(), req.Limits.Check) // as checkRules reads it
	if err != nil {
		return nil, err
	}
	vs, in, err := builder.CheckContext(ctx, df, s.dockerfile, builder.CheckOptions{BuildArgs: args, Network: network, Platforms: platforms, Target: target, Limits: req.Limits.Check})
	if err != nil {
		if fromBake {
			return nil, parseError(s.dockerfile, err)
		}
		return nil, err
	}
	return &CheckResult{Dockerfile: s.dockerfile, Violations: vs, Inputs: in}, nil
}

var parseLine = regexp.MustCompile(`\bline (\d+)\b`)

// parseError words a parse error of a Dockerfile the bake file named
// without BuildKit's message, which quotes the line: the file is the
// commit's, but it was named by a file of the commit, not by the person
// running reprover, so nothing of its text is shown; the line is.
func parseError(name string, err error) error {
	if m := parseLine.FindStringSubmatch(err.Error()); m != nil {
		return fmt.Errorf("%s:%s: not a Dockerfile BuildKit can parse (the file was named by the bake file: its text is not shown)", name, m[1])
	}
	return fmt.Errorf("%s: not a Dockerfile BuildKit can parse (the file was named by the bake file: its text is not shown)", name)
}
