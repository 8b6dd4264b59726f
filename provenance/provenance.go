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
	"slices"
	"strings"

	"github.com/reprover/reprover/internal/strictjson"
	"github.com/reprover/reprover/internal/text"
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
	// Secrets and SSH are the ids of the secrets and SSH agents the
	// request mounted; Inputs the names of its gateway inputs (named
	// contexts given as the results of other builds).
	Secrets, SSH, Inputs []string
	// VCS are the version-control attributes buildx records for a build
	// from a local checkout: source, revision, localdir:context,
	// localdir:dockerfile.
	VCS map[string]string
	// Downloads are the http(s) materials (v1 resolvedDependencies, v0.2
	// materials): what BuildKit's proxy captured for the build, and its ADD
	// downloads, each with the sha256 it recorded ("" when none). Images,
	// git sources and the local context are not downloads.
	Downloads []Download
	// Incomplete are the requests of its RUN steps that BuildKit's proxy
	// kept no digest of (failed, refused, not a GET), as it recorded them.
	Incomplete []Incomplete
	// Images are the container images the build read (pkg:docker
	// materials): its bases, with the digests it resolved.
	Images []Image
	// BuilderID names the builder (v1 runDetails.builder.id, v0.2
	// builder.id).
	BuilderID string
	// LayerLocations are where in the Dockerfile each layer the build
	// made was made, by layer digest (mode=max statements only).
	LayerLocations map[string]Location
	// Subjects are what the statement is about: BuildKit names each
	// platform's image manifest (once per image name it was exported
	// under) in that platform's statement, and none when the export had no
	// image name. See About.
	Subjects []Subject
}

// Subject is one subject of a statement: a name (BuildKit writes a
// pkg:docker purl) and the sha256 it gives ("" when none).
type Subject struct {
	Name   string
	SHA256 string
}

// Download is one http(s) material of a build.
type Download struct {
	URL    string
	SHA256 string
}

// Image is one container image a build read.
type Image struct {
	URI    string // pkg:docker/NAME@TAG?platform=…
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
		if strings.HasPrefix(m.URI, "pkg:docker/") {
			b.Images = append(b.Images, Image{URI: m.URI, SHA256: m.Digest["sha256"]})
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
// strictly as any untrusted document (keys spelled exactly as the formats
// spell them). It does not say whom the statement is about: see About.
func Read(raw []byte) (*Build, error) {
	var st struct {
		PredicateType string `json:"predicateType"`
		Subject       []struct {
			Name   string            `json:"name"`
			Digest map[string]string `json:"digest"`
		} `json:"subject"`
	}
	if err := strictjson.Unmarshal(raw, &st, maxDepth); err != nil {
		return nil, err
	}
	b := &Build{PredicateType: st.PredicateType, Args: map[string]string{}, VCS: map[string]string{}}
	for _, s := range st.Subject {
		b.Subjects = append(b.Subjects, Subject{Name: s.Name, SHA256: s.Digest["sha256"]})
	}
	switch st.PredicateType {
	case SLSAv1:
		return b, b.readV1(raw)
	case SLSAv02:
		return b, b.readV02(raw)
	}
	return nil, fmt.Errorf("predicate type %q is not SLSA provenance", text.Truncate(st.PredicateType, 80))
}

// ReadFor is Read of a statement that must be about one of digests (see
// About): what verify uses for the published image's provenance.
func ReadFor(raw []byte, digests ...string) (*Build, error) {
	b, err := Read(raw)
	if err != nil {
		return nil, err
	}
	return b, b.About(digests...)
}

// About refuses a statement none of whose subjects is one of digests
// ("sha256:<hex>", the image manifests being verified): provenance copied
// from another image, or written without an image name (no subject), says
// nothing about this one. Only sha256 subjects count, compared exactly.
func (b *Build) About(digests ...string) error {
	for _, s := range b.Subjects {
		if s.SHA256 != "" && slices.Contains(digests, "sha256:"+s.SHA256) {
			return nil
		}
	}
	if len(b.Subjects) == 0 {
		return fmt.Errorf("the provenance names no subject, so it is not about %s", list(digests, func(d string) string { return d }))
	}
	return fmt.Errorf("the provenance is about %s, not %s",
		list(b.Subjects, subjectString), list(digests, func(d string) string { return d }))
}

func subjectString(s Subject) string {
	d := "no sha256"
	if s.SHA256 != "" {
		d = "sha256:" + text.Truncate(s.SHA256, 64)
	}
	if s.Name == "" {
		return d
	}
	return text.Truncate(s.Name, 128) + " (" + d + ")"
}

// list shows the first few of xs, and how many more there are.
func list[T any](xs []T, show func(T) string) string {
	const shown = 3
	if len(xs) == 0 {
		return "no image"
	}
	var out []string
	for _, x := range xs[:min(len(xs), shown)] {
		out = append(out, show(x))
	}
	s := strings.Join(out, ", ")
	if len(xs) > shown {
		s += fmt.Sprintf(" and %d more", len(xs)-shown)
	}
	return s
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
	Secrets  []mountID         `json:"secrets"`
	SSH      []mountID         `json:"ssh"`
	Inputs   map[string]any    `json:"inputs"`
}

// mountID is a secret or SSH agent the request mounted (BuildKit's
// provenance types.Secret and types.SSH).
type mountID struct {
	ID       string `json:"id"`
	Optional bool   `json:"optional"`
}

type buildkitMetadata struct {
	VCS map[string]string `json:"vcs"`
	// Source and Layers are in mode=max statements: where in the
	// Dockerfile each step is, and each step's output as its chain of
	// layers (BuildKit's provenance types.BuildKitMetadata).
	Source struct {
		Locations map[string]struct {
			Locations []struct {
				SourceIndex int `json:"sourceIndex"`
				Ranges      []struct {
					Start struct {
						Line int `json:"line"`
					} `json:"start"`
					End struct {
						Line int `json:"line"`
					} `json:"end"`
				} `json:"ranges"`
			} `json:"locations"`
		} `json:"locations"`
		Infos []struct {
			Filename string `json:"filename"`
		} `json:"infos"`
	} `json:"source"`
	Layers map[string][][]struct {
		Digest string `json:"digest"`
	} `json:"layers"`
	// Network is how the build's RUN steps reached the network: with the
	// proxy, the requests it could not capture whole.
	Network *struct {
		Proxy *struct {
			Incomplete []Incomplete `json:"incomplete"`
		} `json:"proxy"`
	} `json:"network"`
}

// Incomplete is a request of the build that BuildKit's proxy kept no
// digest of (runDetails.metadata.buildkit_metadata.network.proxy
// .incomplete[]): a failed or refused request (the 404 a package manager
// expects), a method other than GET, a body cut short.
type Incomplete struct {
	Method string `json:"method"`
	URL    string `json:"uri"`
	Reason string `json:"reason"`
}

func (m buildkitMetadata) incomplete() []Incomplete {
	if m.Network == nil || m.Network.Proxy == nil {
		return nil
	}
	return m.Network.Proxy.Incomplete
}

// Location is where in a Dockerfile a step is: its file and lines.
type Location struct {
	File       string
	Start, End int
}

func (l Location) String() string {
	if l.End > l.Start {
		return fmt.Sprintf("%s:%d-%d", l.File, l.Start, l.End)
	}
	return fmt.Sprintf("%s:%d", l.File, l.Start)
}

// maxLayerSteps bounds the steps whose layers a statement may map.
const maxLayerSteps = 10_000

// layerLocations maps each layer digest the statement's steps output to
// the Dockerfile lines of the step that made it: the step with the
// shortest chain of layers holding it (a base's layers are the FROM's;
// a step that changed nothing has its input's chain, so ties go to the
// earlier line).
func (m buildkitMetadata) layerLocations() map[string]Location {
	if len(m.Layers) == 0 || len(m.Layers) > maxLayerSteps {
		return nil
	}
	type made struct {
		chain int
		loc   Location
	}
	best := map[string]made{}
	for key, chains := range m.Layers {
		step, _, _ := strings.Cut(key, ":")
		src, ok := m.Source.Locations[step]
		if !ok || len(src.Locations) == 0 || len(src.Locations[0].Ranges) == 0 || len(chains) == 0 {
			continue
		}
		l0 := src.Locations[0]
		loc := Location{File: "Dockerfile", Start: l0.Ranges[0].Start.Line, End: l0.Ranges[0].End.Line}
		if l0.SourceIndex >= 0 && l0.SourceIndex < len(m.Source.Infos) && m.Source.Infos[l0.SourceIndex].Filename != "" {
			loc.File = m.Source.Infos[l0.SourceIndex].Filename
		}
		chain := chains[0]
		for _, l := range chain {
			b, seen := best[l.Digest]
			if !seen || len(chain) < b.chain || len(chain) == b.chain && loc.Start < b.loc.Start {
				best[l.Digest] = made{len(chain), loc}
			}
		}
	}
	out := map[string]Location{}
	for d, b := range best {
		out[d] = b.loc
	}
	return out
}

// readV1 reads the predicate of a statement: decoded with the whole
// statement, an error's JSON path starts at the statement.
func (b *Build) readV1(statement []byte) error {
	var st struct {
		Predicate v1Predicate `json:"predicate"`
	}
	if err := strictjson.Unmarshal(statement, &st, maxDepth); err != nil {
		return err
	}
	p := st.Predicate
	ext := p.BuildDefinition.ExternalParameters
	b.fill(ext.ConfigSource, ext.ConfigSource.Path, ext.Request, p.RunDetails.Metadata.BuildKit.VCS)
	b.Max = len(p.BuildDefinition.InternalParameters.BuildConfig) > 0
	b.addDownloads(p.BuildDefinition.ResolvedDependencies)
	b.BuilderID = p.RunDetails.Builder.ID
	b.LayerLocations = p.RunDetails.Metadata.BuildKit.layerLocations()
	b.Incomplete = p.RunDetails.Metadata.BuildKit.incomplete()
	return nil
}

func (b *Build) readV02(statement []byte) error {
	var st struct {
		Predicate v02Predicate `json:"predicate"`
	}
	if err := strictjson.Unmarshal(statement, &st, maxDepth); err != nil {
		return err
	}
	p := st.Predicate
	inv := p.Invocation
	b.fill(inv.ConfigSource, inv.ConfigSource.EntryPoint, inv.Parameters, p.Metadata.BuildKit.VCS)
	b.Max = len(p.BuildConfig) > 0
	b.addDownloads(p.Materials)
	b.BuilderID = p.Builder.ID
	b.LayerLocations = p.Metadata.BuildKit.layerLocations()
	b.Incomplete = p.Metadata.BuildKit.incomplete()
	return nil
}

// v1Predicate is what is read of SLSA v1 provenance as BuildKit writes it.
type v1Predicate struct {
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
		Builder struct {
			ID string `json:"id"`
		} `json:"builder"`
		Metadata struct {
			BuildKit buildkitMetadata `json:"buildkit_metadata"`
		} `json:"metadata"`
	} `json:"runDetails"`
}

// v02Predicate is what is read of SLSA v0.2 provenance as BuildKit writes
// it.
type v02Predicate struct {
	Builder struct {
		ID string `json:"id"`
	} `json:"builder"`
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
	for _, m := range req.Secrets {
		b.Secrets = append(b.Secrets, m.ID)
	}
	for _, m := range req.SSH {
		b.SSH = append(b.SSH, m.ID)
	}
	for name := range req.Inputs {
		b.Inputs = append(b.Inputs, name)
	}
	slices.Sort(b.Inputs)
	for k, v := range vcs {
		b.VCS[k] = v
	}
}
