package service

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/url"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/reprover/reprover/internal/gitid"
	"github.com/reprover/reprover/internal/hosts"
	"github.com/reprover/reprover/internal/text"

	"github.com/reprover/reprover/image"
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
}

// FieldError is a request field that is missing or invalid (400).
type FieldError struct {
	Field   string
	Message string
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Message }

var (
	targetRe   = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$`)
	argKeyRe   = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,127}$`)
	maxArgs    = 64
	maxArgLen  = 4096
	maxFieldLn = 2048
)

// Validate checks every field, and that the source and image are ones this
// server may read (cfg's allow lists).
func (r *Request) Validate(cfg *Config) error {
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
		if err := checkSource(r.Source, cfg.Sources.Allow); err != nil {
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
	case "", "none":
	case "proxy":
		if !cfg.Network.AllowProxy {
			return &FieldError{"network", "proxy is not allowed on this server (network.allowProxy)"}
		}
	default:
		return &FieldError{"network", "want none or proxy"}
	}
	if len(r.Platforms) > 16 {
		return &FieldError{"platforms", "more than 16"}
	}
	for _, p := range r.Platforms {
		if _, err := image.ParsePlatform(p); err != nil {
			return &FieldError{"platforms", err.Error()}
		}
	}
	return nil
}

// checkSource applies sources.allow to a source, submitted or named by the
// image: an allowed prefix, and no internal host unless listed.
func checkSource(src string, allow []string) error {
	if !sourceAllowed(src, allow) {
		return errors.New("not under an allowed prefix (sources.allow)")
	}
	return sourceHostAllowed(src, allow)
}

// sourceAllowed: the source starts with an allowed prefix; a local path is
// allowed only under a listed directory (cleaned, so ".." cannot climb out).
func sourceAllowed(src string, allow []string) bool {
	local := strings.HasPrefix(src, "/")
	if local {
		src = filepath.Clean(src)
	}
	for _, a := range allow {
		if local != strings.HasPrefix(a, "/") {
			continue
		}
		if local {
			a = filepath.Clean(a)
			if src == a || strings.HasPrefix(src, a+"/") || a == "/" {
				return true
			}
			continue
		}
		if strings.HasPrefix(src, a) {
			return true
		}
	}
	return false
}

// sourceHostAllowed refuses git URLs on loopback, private and link-local
// hosts (internal services, cloud metadata) unless an allowed prefix names
// that host itself: "https://" alone does not open the internal network.
func sourceHostAllowed(src string, allow []string) error {
	u, err := url.Parse(src)
	if err != nil || u.Host == "" {
		return nil // a local path, or scp-like syntax handled by the prefixes
	}
	if !privateHost(u.Hostname()) {
		return nil
	}
	for _, a := range allow {
		if strings.HasPrefix(src, a) && strings.Contains(a, u.Host) {
			return nil
		}
	}
	return fmt.Errorf("host %s is local or private; sources.allow must name it to allow it", u.Host)
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
