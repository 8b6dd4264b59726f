package verify

import (
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"strings"

	"github.com/reprover/reprover/bake"
	"github.com/reprover/reprover/builder"
	"github.com/reprover/reprover/internal/files"
	"github.com/reprover/reprover/internal/limits"
	"github.com/reprover/reprover/internal/param"
)

// FromBake is where a parameter read from the project's bake file came
// from (a bake file counts as flags: it is how the release was built).
const FromBake = "bake"

// applyBake reads the request's bake file from the exported commit and
// takes its target's context, Dockerfile, target and build arguments for
// every parameter no flag set. env is what may override its variables
// (buildx reads the environment); the report names each one used.
func applyBake(p *params, req Request, co *Checkout, env map[string]string, lim bake.Limits) error {
	if req.Bake == "" {
		return nil
	}
	t, err := bakeTarget(co.Dir, req.Bake, req.BakeTarget, env, lim)
	if err != nil {
		return fmt.Errorf("%w (at %s)", err, co.Commit)
	}
	set := func(name string, dst *string, flag, value string) {
		if flag != "" || value == "" {
			return
		}
		*dst = value
		p.of[name] = Parameter{value, FromBake}
	}
	r := &p.req
	set("context", &r.Context, req.Context, t.Context)
	set("dockerfile", &r.Dockerfile, req.Dockerfile, t.DockerfilePath())
	set("target", &r.Target, req.Target, t.Target)
	if len(req.BuildArgs) == 0 {
		args := t.BuildArgs()
		for k := range maps.Keys(p.of) {
			if strings.HasPrefix(k, "buildArgs.") {
				delete(p.of, k) // the bake file's, not the provenance's
			}
		}
		r.BuildArgs = args
		p.argsUnknown = false
		for _, k := range slices.Sorted(maps.Keys(args)) {
			p.of["buildArgs."+k] = Parameter{args[k], FromBake}
		}
	}
	if len(t.Platforms) > 0 {
		p.of["bakePlatforms"] = Parameter{strings.Join(t.Platforms, ","), FromBake}
	}
	for _, k := range t.FromEnv {
		p.of["env."+k] = Parameter{env[k], "environment"}
		p.hints = append(p.hints, param.Sprintf(p.words, "The bake file's variable %s was set to %q ({BakeEnv}), as the release's environment did.", k, env[k]))
	}
	return nil
}

// bakeTarget reads the bake file rel inside dir (bounded by lim, no
// symlinks on the way) and resolves its target with env as the environment.
func bakeTarget(dir, file, target string, env map[string]string, lim bake.Limits) (*bake.Target, error) {
	lim = limits.WithDefaults(lim, bake.DefaultLimits)
	rel := filepath.Clean(file)
	if !filepath.IsLocal(rel) {
		return nil, param.Errorf("Bake", "{Bake} %s: must be a path inside the source", file)
	}
	if err := noSymlinks(dir, rel, false); err != nil {
		return nil, param.Errorf("Bake", "{Bake} %s: %w", file, err)
	}
	src, err := files.ReadRegular(filepath.Join(dir, rel), filepath.ToSlash(rel), int64(lim.MaxFileSize), "bake.MaxFileSize")
	if err != nil {
		return nil, param.Errorf("Bake", "{Bake} %s: %w", file, err)
	}
	f, err := bake.Load(src, filepath.ToSlash(rel), env, lim)
	if err != nil {
		return nil, err
	}
	t, err := f.Target(target)
	if err != nil {
		return nil, err
	}
	if strings.Contains(t.Context, "://") {
		return nil, fmt.Errorf("%s: target %s: context %s is not a path in the source", rel, t.Name, t.Context)
	}
	if t.DockerfileInline != nil {
		return nil, fmt.Errorf("%s: target %s: dockerfile-inline is not supported: the Dockerfile must be a file of the commit", rel, t.Name)
	}
	if len(t.Contexts) > 0 {
		// As a named context in a provenance (builder.Params, context:*).
		name := slices.Sorted(maps.Keys(t.Contexts))[0]
		return nil, &builder.ParamError{Key: "context:" + name, Value: t.Contexts[name], From: FromBake + " file " + rel + ", target " + t.Name,
			Reason: builder.Lookup("context:" + name).Why}
	}
	return t, nil
}
