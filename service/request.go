package service

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/reprover/reprover/image"
	"github.com/reprover/reprover/internal/gitid"
	"github.com/reprover/reprover/internal/hosts"
	"github.com/reprover/reprover/internal/text"
	"github.com/reprover/reprover/verify"
)

// Request is a submitted verification (POST /api/v1/verifications).
type Request struct {
	Source     string            `json:"source"`
	Commit     string            `json:"commit"`
	Image      string            `json:"image"`
	Dockerfile string            `json:"dockerfile,omitempty"`
	Context    string            `json:"context,omitempty"`
	Target     string            `json:"target,omitempty"`
	BuildArgs  map[string]string `json:"buildArgs,omitempty"`
	Platforms  []string          `json:"platforms,omitempty"`
	// Network is "none" (RUN has no network) or "proxy" (downloads
	// through BuildKit's capturing proxy, each checked against a pin);
	// empty: the server's network.default.
	Network string `json:"network,omitempty"`
	// Reverify names the round of re-verifications (reverify.every) that
	// made this request, an RFC 3339 time: a known release verified again,
	// a new verification beside the earlier ones. A client may set it too,
	// to verify a release again.
	Reverify string `json:"reverify,omitempty"`
}

var (
	targetRe   = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$`)
	argKeyRe   = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,127}$`)
	maxArgs    = 64
	maxArgLen  = 4096
	maxFieldLn = 2048
)

// Validate checks every field, and that the source and image are ones this
// server may read (cfg's allow lists).
func (r *Request) Validate(cfg *Config) error { return r.validate(cfg, net.DefaultResolver) }

// validate is Validate with the resolver that judges the source's host.
func (r *Request) validate(cfg *Config, res hosts.Resolver) error {
	// Only the image is required: the pipeline reads a source and commit
	// the request leaves out from the image's provenance, then its labels,
	// and judges that source by the same rules (SourcePolicy).
	if r.Image == "" {
		return &FieldError{"image", "required"}
	}
	for name, v := range map[string]string{"source": r.Source, "image": r.Image, "dockerfile": r.Dockerfile, "context": r.Context, "target": r.Target} {
		if len(v) > maxFieldLn {
			return &FieldError{name, fmt.Sprintf("longer than %d bytes", maxFieldLn)}
		}
		if strings.ContainsAny(v, "\x00\n\r") {
			return &FieldError{name, "contains a control character"}
		}
	}
	if r.Commit != "" && !gitid.Valid(r.Commit) {
		return &FieldError{"commit", "want a full commit id (40 or 64 lower-case hex digits)"}
	}
	if r.Source != "" {
		if err := judgeSource(r.Source, cfg.Sources.Allow, res); err != nil {
			return &FieldError{"source", err.Error()}
		}
	}
	ref, err := image.ParseReference(r.Image)
	if err != nil {
		return &FieldError{"image", err.Error()}
	}
	if ref.Transport != image.Registry {
		return &FieldError{"image", "must be a registry reference"}
	}
	if err := imageAllowed(r.Image, ref, cfg.Images.Allow); err != nil {
		return &FieldError{"image", err.Error()}
	}
	for name, p := range map[string]string{"dockerfile": r.Dockerfile, "context": r.Context} {
		if p != "" && (!filepath.IsLocal(p) || strings.Contains(p, `\`)) {
			return &FieldError{name, "must be a relative path inside the source"}
		}
	}
	if r.Target != "" && !targetRe.MatchString(r.Target) {
		return &FieldError{"target", "not a stage name"}
	}
	if len(r.BuildArgs) > maxArgs {
		return &FieldError{"buildArgs", fmt.Sprintf("more than %d", maxArgs)}
	}
	for k, v := range r.BuildArgs {
		if !argKeyRe.MatchString(k) {
			return &FieldError{"buildArgs", fmt.Sprintf("%q is not a build argument name", text.Truncate(k, 40))}
		}
		if len(v) > maxArgLen {
			return &FieldError{"buildArgs." + k, fmt.Sprintf("longer than %d bytes", maxArgLen)}
		}
	}
	switch r.Network {
	case "", verify.NetworkNone:
	case verify.NetworkProxy:
		if !cfg.Network.AllowProxy {
			return &FieldError{"network", "proxy is not allowed on this server (network.allowProxy)"}
		}
	default:
		return &FieldError{"network", fmt.Sprintf("want %s or %s", verify.NetworkNone, verify.NetworkProxy)}
	}
	if len(r.Platforms) > 16 {
		return &FieldError{"platforms", "more than 16"}
	}
	for _, p := range r.Platforms {
		// Bounded before it is parsed (containerd's parser is not).
		if len(p) > maxPlatformLen {
			return &FieldError{"platforms", fmt.Sprintf("a platform of %d bytes, longer than %d", len(p), maxPlatformLen)}
		}
		if _, err := image.ParsePlatform(p); err != nil {
			return &FieldError{"platforms", err.Error()}
		}
	}
	if r.Reverify != "" {
		if _, err := time.Parse(time.RFC3339, r.Reverify); err != nil || len(r.Reverify) > 64 {
			return &FieldError{"reverify", "want an RFC 3339 time, such as 2026-12-06T00:00:00Z"}
		}
	}
	return nil
}

// checkSource applies sources.allow to a source, submitted or named by the
// image: an allowed prefix, and no internal host unless listed.
func checkSource(src string, allow []string) error {
	return judgeSource(src, allow, net.DefaultResolver)
}

// judgeTimeout bounds the lookup of a submitted source's host.
const judgeTimeout = 3 * time.Second

// judgeSource is checkSource with the resolver given: the source as git
// would read it (hosts.ParseSource: another transport, a host with '%',
// a URL that does not parse are refused), then sources.allow, then its
// host as internal/hosts judges it for the CLI too (a name resolving to a
// local address is refused). A name that does not resolve now passes:
// the clone judges it again (hostAllowedBy), and is pinned to what it
// judged.
func judgeSource(src string, allow []string, res hosts.Resolver) error {
	parsed, err := hosts.ParseSource(src)
	if err != nil {
		return err
	}
	if underAllowed(src, parsed, allow) == nil {
		return errors.New("not under an allowed prefix (sources.allow)")
	}
	ctx, cancel := context.WithTimeout(context.Background(), judgeTimeout)
	defer cancel()
	named := hostAllowedBy(allow)
	_, err = hosts.JudgeSource(ctx, src, hosts.SourcePolicy{Resolver: res,
		AllowHost: func(h string) bool { return named(src, h) },
		AllowPath: func(string) bool { return true }}) // underAllowed judged it
	var local *hosts.LocalError
	switch {
	case err == nil, errors.Is(err, hosts.ErrUnresolved):
		return nil
	case errors.As(err, &local):
		return fmt.Errorf("%w; sources.allow must name the host %s to allow it", err, local.Host)
	}
	return err
}

// underAllowed returns the sources.allow entries src is under (entries
// that do not parse admit nothing; Config.Validate refuses them).
func underAllowed(src string, parsed hosts.Source, allow []string) []sourceEntry {
	var out []sourceEntry
	for _, a := range allow {
		if e, err := parseSourceEntry(a); err == nil && e.admits(src, parsed) {
			out = append(out, e)
		}
	}
	return out
}

// hostAllowedBy is sources.allow's judgement of a local host, asked again
// when a source is cloned (verify.Options.AllowSourceHost): an entry the
// source is under names that host itself, so "https://" or "git@" alone
// does not open the internal network.
func hostAllowedBy(allow []string) func(src, host string) bool {
	return func(src, host string) bool {
		parsed, err := hosts.ParseSource(src)
		if err != nil || host == "" {
			return false
		}
		for _, e := range underAllowed(src, parsed, allow) {
			if e.host != "" && strings.EqualFold(e.host, host) {
				return true
			}
		}
		return false
	}
}

// privateHost is image.LocalHost, or a name that resolves to such an
// address now. Names that do not resolve here are not refused: nothing can
// be fetched from them. Registry fetches are guarded again at dial time
// (dialGuard).
func privateHost(h string) bool {
	if hosts.LocalHost(h) {
		return true
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	addrs, err := net.DefaultResolver.LookupIPAddr(ctx, strings.TrimSuffix(h, "."))
	if err != nil {
		return false
	}
	for _, a := range addrs {
		if hosts.LocalIP(a.IP) {
			return true
		}
	}
	return false
}

// imageAllowed refuses registries on loopback, private and link-local
// addresses (cloud metadata, internal services) unless a prefix allows them.
func imageAllowed(s string, ref image.Reference, allow allowList) error {
	if allow.allowsImage(s) {
		return nil
	}
	host, _, _ := strings.Cut(ref.Name, "/")
	h, _, err := net.SplitHostPort(host)
	if err != nil {
		h = host
	}
	if privateHost(h) {
		return fmt.Errorf("registry host %s is local, private or link-local (images.allow lists exceptions)", h)
	}
	return nil
}

// ID is the verification id of a request: the same request gets the same
// id (submission is idempotent).
func (r *Request) ID() string {
	c := *r
	if len(c.BuildArgs) == 0 {
		c.BuildArgs = nil
	}
	if len(c.Platforms) == 0 {
		c.Platforms = nil
	} else {
		c.Platforms = append([]string(nil), c.Platforms...)
		sort.Strings(c.Platforms)
	}
	b, _ := json.Marshal(c) // map keys are sorted by encoding/json
	sum := sha256.Sum256(b)
	return "v" + hex.EncodeToString(sum[:12])
}
