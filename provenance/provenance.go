// Package provenance reads what a publisher's SLSA provenance (as BuildKit
// writes it, v1 or v0.2, mode=min or mode=max) says about how a release
// was built: the source and commit, the Dockerfile, the target and build
// arguments, and the version-control attributes buildx records. It is the
// publisher's data, not proof: verify uses it to know what to rebuild,
// never to widen what the rebuild may do.
package provenance

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/reprover/reprover/internal/strictjson"
)

// Predicate types read.
const (
	SLSAv1  = "https://slsa.dev/provenance/v1"
	SLSAv02 = "https://slsa.dev/provenance/v0.2"
)

// maxDepth bounds a statement's nesting (BuildKit's mode=max LLB is deep,
// but not that deep).
const maxDepth = 96

// Build is what a provenance statement says about a build.
type Build struct {
	PredicateType string
	// Max is mode=max: the request's build arguments are recorded. A
	// mode=min provenance drops them.
	Max bool
	// ConfigSource is the Dockerfile's origin: a git URL and commit when
	// the build read it from git, else only its path in the context.
	ConfigSourceURI string
	Commit          string // configSource.digest.sha1 (or sha256)
	DockerfilePath  string
	Frontend        string
	// Args are the frontend's request attributes: target, build-arg:*, …
	Args map[string]string
	// VCS are the version-control attributes buildx records for a build
	// from a local checkout: source, revision, localdir:context,
	// localdir:dockerfile.
	VCS map[string]string
	// Downloads are the http(s) materials (v1 resolvedDependencies, v0.2
	// materials): what BuildKit's proxy captured for the build, and its ADD
	// downloads, each with the sha256 it recorded ("" when none). Images,
	// git sources and the local context are not downloads.
	Downloads []Download
}

// Download is one http(s) material of a build.
type Download struct {
	URL    string
	SHA256 string
}

type material struct {
	URI    string            `json:"uri"`
	Digest map[string]string `json:"digest"`
}

func (b *Build) addDownloads(ms []material) {
	for _, m := range ms {
		if strings.HasPrefix(m.URI, "https://") || strings.HasPrefix(m.URI, "http://") {
			b.Downloads = append(b.Downloads, Download{URL: m.URI, SHA256: m.Digest["sha256"]})
		}
	}
}

// BuildArgs are the build arguments the request recorded.
func (b *Build) BuildArgs() map[string]string {
	out := map[string]string{}
	for k, v := range b.Args {
		if name, ok := strings.CutPrefix(k, "build-arg:"); ok {
			out[name] = v
		}
	}
	return out
}

// Read parses one in-toto statement of SLSA provenance, checked as
// strictly as any untrusted document.
func Read(raw []byte) (*Build, error) {
	if err := strictjson.Check(raw, maxDepth); err != nil {
		return nil, err
	}
	var st struct {
		PredicateType string          `json:"predicateType"`
		Predicate     json.RawMessage `json:"predicate"`
	}
	if err := json.Unmarshal(raw, &st); err != nil {
		return nil, err
	}
	b := &Build{PredicateType: st.PredicateType, Args: map[string]string{}, VCS: map[string]string{}}
	switch st.PredicateType {
	case SLSAv1:
		return b, b.readV1(st.Predicate)
	case SLSAv02:
		return b, b.readV02(st.Predicate)
	}
	return nil, fmt.Errorf("predicate type %q is not SLSA provenance", st.PredicateType)
}

type configSource struct {
	URI        string            `json:"uri"`
	Digest     map[string]string `json:"digest"`
	Path       string            `json:"path"`       // v1
	EntryPoint string            `json:"entryPoint"` // v0.2
}

type request struct {
	Frontend string            `json:"frontend"`
	Args     map[string]string `json:"args"`
}

type buildkitMetadata struct {
	VCS map[string]string `json:"vcs"`
}

func (b *Build) readV1(raw json.RawMessage) error {
	var p struct {
		BuildDefinition struct {
			ExternalParameters struct {
				ConfigSource configSource `json:"configSource"`
				Request      request      `json:"request"`
			} `json:"externalParameters"`
			ResolvedDependencies []material `json:"resolvedDependencies"`
			InternalParameters   struct {
				BuildConfig json.RawMessage `json:"buildConfig"`
			} `json:"internalParameters"`
		} `json:"buildDefinition"`
		RunDetails struct {
			Metadata struct {
				BuildKit buildkitMetadata `json:"buildkit_metadata"`
			} `json:"metadata"`
		} `json:"runDetails"`
	}
	if err := json.Unmarshal(raw, &p); err != nil {
		return err
	}
	ext := p.BuildDefinition.ExternalParameters
	b.fill(ext.ConfigSource, ext.ConfigSource.Path, ext.Request, p.RunDetails.Metadata.BuildKit.VCS)
	b.Max = len(p.BuildDefinition.InternalParameters.BuildConfig) > 0
	b.addDownloads(p.BuildDefinition.ResolvedDependencies)
	return nil
}

func (b *Build) readV02(raw json.RawMessage) error {
	var p struct {
		Invocation struct {
			ConfigSource configSource `json:"configSource"`
			Parameters   request      `json:"parameters"`
		} `json:"invocation"`
		BuildConfig json.RawMessage `json:"buildConfig"`
		Materials   []material      `json:"materials"`
		Metadata    struct {
			BuildKit buildkitMetadata `json:"https://mobyproject.org/buildkit@v1#metadata"`
		} `json:"metadata"`
	}
	if err := json.Unmarshal(raw, &p); err != nil {
		return err
	}
	inv := p.Invocation
	b.fill(inv.ConfigSource, inv.ConfigSource.EntryPoint, inv.Parameters, p.Metadata.BuildKit.VCS)
	b.Max = len(p.BuildConfig) > 0
	b.addDownloads(p.Materials)
	return nil
}

func (b *Build) fill(cs configSource, path string, req request, vcs map[string]string) {
	b.ConfigSourceURI, b.DockerfilePath, b.Frontend = cs.URI, path, req.Frontend
	if c := cs.Digest["sha1"]; c != "" {
		b.Commit = c
	} else if c := cs.Digest["sha256"]; c != "" {
		b.Commit = c
	}
	for k, v := range req.Args {
		b.Args[k] = v
	}
	for k, v := range vcs {
		b.VCS[k] = v
	}
}
