package verify

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/reprover/reprover/builder"
	"github.com/reprover/reprover/internal/param"
)

// source is the commit's tree exported, and where in it the build's
// context and Dockerfile are.
type source struct {
	checkout   *Checkout
	contextRel string // "." or a clean path in the tree
	dockerfile string // the Dockerfile's clean slash path in the tree
}

func (s *source) contextDir() string     { return filepath.Join(s.checkout.Dir, s.contextRel) }
func (s *source) dockerfilePath() string { return filepath.Join(s.checkout.Dir, s.dockerfile) }

// locate finds the context and the Dockerfile in a tree, and checks that
// they are inside it and reached without a symlink: the source is
// untrusted, and a symlink could send the host's files to BuildKit, or
// read /dev/zero.
func locate(co *Checkout, contextRel, dfRel string) (*source, error) {
	if contextRel == "" {
		contextRel = "."
	}
	if dfRel == "" {
		dfRel = filepath.Join(contextRel, "Dockerfile")
	}
	for _, p := range []string{contextRel, dfRel} {
		if !filepath.IsLocal(filepath.Clean(p)) && filepath.Clean(p) != "." {
			return nil, fmt.Errorf("%s: must be a path inside the source", p)
		}
	}
	s := &source{checkout: co, contextRel: filepath.Clean(contextRel), dockerfile: filepath.ToSlash(filepath.Clean(dfRel))}
	if err := noSymlinks(co.Dir, contextRel, true); err != nil {
		return nil, param.Errorf("Context", "{Context} %s at %s: %w", contextRel, co.Commit, err)
	}
	if err := noSymlinks(co.Dir, dfRel, false); err != nil {
		return nil, fmt.Errorf("%s at %s: %w", s.dockerfile, co.Commit, err)
	}
	return s, nil
}

// checkRules applies the pinning rules to the source's Dockerfile and
// returns its pinned inputs.
func checkRules(ctx context.Context, s *source, req Request, platforms []string, lim builder.CheckLimits) (*builder.Inputs, error) {
	df, err := builder.ReadDockerfile(s.dockerfilePath(), lim)
	if err != nil {
		return nil, fmt.Errorf("%s at %s: %w", s.dockerfile, s.checkout.Commit, err)
	}
	vs, inputs, err := builder.CheckContext(ctx, df, s.dockerfile, builder.CheckOptions{BuildArgs: req.BuildArgs, Network: req.network(),
		AllowHosts: req.AllowDownloadHosts, Platforms: platforms, Target: req.Target, Limits: lim})
	if err != nil {
		return nil, err
	}
	if len(vs) > 0 {
		return nil, fmt.Errorf("%w: %s", ErrUnpinned, strings.ReplaceAll(vs.Error(), "\n", "; "))
	}
	return inputs, nil
}

// noSymlinks checks that rel, inside root, is reached without following a
// symlink and is a directory (dir) or a regular file.
func noSymlinks(root, rel string, dir bool) error {
	p := root
	parts := strings.Split(filepath.ToSlash(filepath.Clean(rel)), "/")
	for i, part := range parts {
		if part == "." {
			continue
		}
		p = filepath.Join(p, part)
		st, err := os.Lstat(p)
		if err != nil {
			return err
		}
		switch {
		case st.Mode()&os.ModeSymlink != 0:
			return fmt.Errorf("%s is a symlink; give the path it stands for", strings.Join(parts[:i+1], "/"))
		case i < len(parts)-1 && !st.IsDir():
			return fmt.Errorf("%s is not a directory", strings.Join(parts[:i+1], "/"))
		case i == len(parts)-1 && dir && !st.IsDir():
			return errors.New("not a directory")
		case i == len(parts)-1 && !dir && !st.Mode().IsRegular():
			return errors.New("not a regular file")
		}
	}
	return nil
}
