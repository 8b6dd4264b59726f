package image

import (
	"context"
	"encoding/base64"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/reprover/reprover/fixtures"
)

// faultRegistry is a real registry with a handler in front that answers
// some requests itself, with what a real registry never sends: documents
// that are not what their digest says, bodies that never end, redirects to
// hosts it does not own.
type faultRegistry struct {
	*fixtures.Registry
	mu     sync.Mutex
	routes map[string]http.HandlerFunc
	// basic, when set, is the only Authorization the registry accepts;
	// authSeen records what it got.
	basic    string
	authSeen []string
}

func newFaultRegistry(t *testing.T, basic string) *faultRegistry {
	f := &faultRegistry{routes: map[string]http.HandlerFunc{}, basic: basic}
	f.Registry = fixtures.StartRegistry(func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
			f.mu.Lock()
			h := f.routes[r.URL.Path]
			if r.Method != http.MethodGet && r.Method != http.MethodHead {
				h = nil // pushes go to the registry
			}
			f.authSeen = append(f.authSeen, r.Header.Get("Authorization"))
			f.mu.Unlock()
			if f.basic != "" && r.Header.Get("Authorization") != f.basic && r.Method == http.MethodGet {
				rw.Header().Set("WWW-Authenticate", `Basic realm="reprover-test"`)
				http.Error(rw, "who are you", http.StatusUnauthorized)
				return
			}
			if h != nil {
				h(rw, r)
				return
			}
			next.ServeHTTP(rw, r)
		})
	})
	t.Cleanup(f.Close)
	return f
}

func (f *faultRegistry) handle(path string, h http.HandlerFunc) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.routes[path] = h
}

// document answers with body, the Content-Type and Docker-Content-Digest
// given ("" digest: the body's own).
func document(body []byte, ct types.MediaType, digest string) http.HandlerFunc {
	return func(rw http.ResponseWriter, r *http.Request) {
		if digest == "" {
			digest = digestOfBytes(body).String()
		}
		rw.Header().Set("Content-Type", string(ct))
		rw.Header().Set("Docker-Content-Digest", digest)
		rw.Header().Set("Content-Length", strconv.Itoa(len(body)))
		rw.Write(body)
	}
}

// endless answers with a body that never ends (chunked, no length).
func endless(ct types.MediaType) http.HandlerFunc {
	return func(rw http.ResponseWriter, r *http.Request) {
		rw.Header().Set("Content-Type", string(ct))
		chunk := []byte(strings.Repeat(" ", 32<<10))
		for {
			if _, err := rw.Write(chunk); err != nil || r.Context().Err() != nil {
				return
			}
		}
	}
}

// recorder is an http.RoundTripper that records every request that gets
// past image's own guard, then hands it to next (nil: fails it, as if the
// host were unreachable).
type recorder struct {
	next http.RoundTripper
	mu   sync.Mutex
	urls []string
}

func (r *recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	r.mu.Lock()
	r.urls = append(r.urls, req.URL.String())
	r.mu.Unlock()
	if r.next == nil {
		return nil, errors.New("test: network unreachable")
	}
	return r.next.RoundTrip(req)
}

func (r *recorder) sawHost(host string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, u := range r.urls {
		if strings.Contains(u, "//"+host+"/") || strings.Contains(u, "//"+host+":") {
			return true
		}
	}
	return false
}

type basicKeychain struct{}

func (basicKeychain) Resolve(authn.Resource) (authn.Authenticator, error) {
	return &authn.Basic{Username: "reprover", Password: "s3cret"}, nil
}

// TestHostileRegistry: what only a registry's HTTP answers can do.
func TestHostileRegistry(t *testing.T) {
	w := newWorld(t)
	idx := fixtures.Index(false, false, fixtures.Platformed{Platform: amd64, Image: w.img})
	other := w.manifestWith(func(m *v1.Manifest) { m.Annotations = map[string]string{"evil": "1"} })
	flipped := func(b []byte) []byte { b = append([]byte{}, b...); b[len(b)/2] ^= 1; return b }
	cfgRaw, _ := w.img.RawConfigFile()
	layerRaw := func() []byte {
		ls, err := w.img.Layers()
		if err != nil {
			t.Fatal(err)
		}
		rc, err := ls[1].Compressed()
		if err != nil {
			t.Fatal(err)
		}
		defer rc.Close()
		return must(io.ReadAll(rc))
	}()
	child := childDigest(t, idx, amd64)

	for _, c := range []struct {
		name string
		// setup installs the faults and returns the reference to open.
		setup     func(t *testing.T, f *faultRegistry) string
		opts      func(o *Options)
		basicAuth bool          // the registry wants credentials
		deadline  time.Duration // of Open's context; 10s when zero
		layers    bool          // Open succeeds; reading the layers fails
		want      string
		limit     string
		digestErr bool
		// check runs whatever Open returned.
		check func(t *testing.T, f *faultRegistry, r *Resolved, err error)
	}{
		{name: "digest pull, body differs, Docker-Content-Digest lies", setup: func(t *testing.T, f *faultRegistry) string {
			f.handle("/v2/r/manifests/"+w.desc.Digest.String(), document(other, types.OCIManifestSchema1, w.desc.Digest.String()))
			return f.Host + "/r@" + w.desc.Digest.String()
		}, want: w.desc.Digest.String()},
		{name: "digest pull, schema 1 Content-Type makes the lying header the digest", setup: func(t *testing.T, f *faultRegistry) string {
			// go-containerregistry trusts Docker-Content-Digest for signed
			// schema 1; image hashes the bytes itself.
			f.handle("/v2/r/manifests/"+w.desc.Digest.String(), document(other, types.DockerManifestSchema1Signed, w.desc.Digest.String()))
			return f.Host + "/r@" + w.desc.Digest.String()
		}, want: w.desc.Digest.String(), digestErr: true},
		{name: "tag pull, Docker-Content-Digest lies", setup: func(t *testing.T, f *faultRegistry) string {
			raw, _ := w.img.RawManifest()
			f.handle("/v2/r/manifests/lie", document(raw, types.OCIManifestSchema1, digA))
			return f.Host + "/r:lie"
		}, check: func(t *testing.T, f *faultRegistry, r *Resolved, err error) {
			if err != nil {
				t.Fatal(err)
			}
			if r.Digest != w.desc.Digest {
				t.Errorf("Digest = %s, want the bytes' own %s, not the header's", r.Digest, w.desc.Digest)
			}
		}},
		{name: "index child body differs from its digest", setup: func(t *testing.T, f *faultRegistry) string {
			f.handle("/v2/r/manifests/"+child.String(), document(other, types.OCIManifestSchema1, child.String()))
			return f.Host + "/r:idx"
		}, want: child.String()},
		{name: "index child body differs, schema 1 Content-Type", setup: func(t *testing.T, f *faultRegistry) string {
			f.handle("/v2/r/manifests/"+child.String(), document(other, types.DockerManifestSchema1Signed, child.String()))
			return f.Host + "/r:idx"
		}, want: child.String(), digestErr: true},
		{name: "config blob body differs", setup: func(t *testing.T, f *faultRegistry) string {
			f.handle("/v2/r/blobs/"+w.m.Config.Digest.String(), document(flipped(cfgRaw), "application/octet-stream", w.m.Config.Digest.String()))
			return f.Host + "/r:v1"
		}, want: w.m.Config.Digest.String(), digestErr: true},
		{name: "config blob longer than its descriptor", setup: func(t *testing.T, f *faultRegistry) string {
			f.handle("/v2/r/blobs/"+w.m.Config.Digest.String(), document(append(cfgRaw, ' '), "application/octet-stream", w.m.Config.Digest.String()))
			return f.Host + "/r:v1"
		}, want: w.m.Config.Digest.String(), digestErr: true},
		{name: "layer blob body differs", setup: func(t *testing.T, f *faultRegistry) string {
			f.handle("/v2/r/blobs/"+w.m.Layers[1].Digest.String(), document(flipped(layerRaw), "application/octet-stream", w.m.Layers[1].Digest.String()))
			return f.Host + "/r:v1"
		}, layers: true, want: w.m.Layers[1].Digest.String(), digestErr: true},
		{name: "layer blob longer than its descriptor", setup: func(t *testing.T, f *faultRegistry) string {
			f.handle("/v2/r/blobs/"+w.m.Layers[1].Digest.String(), document(append(layerRaw, 0), "application/octet-stream", ""))
			return f.Host + "/r:v1"
		}, layers: true, want: w.m.Layers[1].Digest.String(), digestErr: true},
		{name: "manifest body never ends", setup: func(t *testing.T, f *faultRegistry) string {
			f.handle("/v2/r/manifests/endless", endless(types.OCIManifestSchema1))
			return f.Host + "/r:endless"
		}, limit: "MaxManifestBytes"},
		{name: "manifest body over a configured MaxManifestBytes", setup: func(t *testing.T, f *faultRegistry) string {
			return f.Host + "/r:v1"
		}, opts: func(o *Options) { o.Limits.MaxManifestBytes = 100 }, limit: "MaxManifestBytes"},
		{name: "index child body never ends", setup: func(t *testing.T, f *faultRegistry) string {
			f.handle("/v2/r/manifests/"+child.String(), endless(types.OCIManifestSchema1))
			return f.Host + "/r:idx"
		}, limit: "MaxManifestBytes"},
		{name: "config body never ends", setup: func(t *testing.T, f *faultRegistry) string {
			f.handle("/v2/r/blobs/"+w.m.Config.Digest.String(), endless("application/octet-stream"))
			return f.Host + "/r:v1"
		}, want: w.m.Config.Digest.String(), digestErr: true},
		{name: "layer body never ends", setup: func(t *testing.T, f *faultRegistry) string {
			f.handle("/v2/r/blobs/"+w.m.Layers[1].Digest.String(), endless("application/octet-stream"))
			return f.Host + "/r:v1"
		}, layers: true, want: w.m.Layers[1].Digest.String(), digestErr: true},
		{name: "manifest body stalls: the context's deadline holds", setup: func(t *testing.T, f *faultRegistry) string {
			f.handle("/v2/r/manifests/stall", func(rw http.ResponseWriter, r *http.Request) {
				rw.Header().Set("Content-Type", string(types.OCIManifestSchema1))
				rw.Write([]byte(`{"schemaVersion":`))
				rw.(http.Flusher).Flush()
				<-r.Context().Done()
			})
			return f.Host + "/r:stall"
		}, deadline: 500 * time.Millisecond, check: func(t *testing.T, f *faultRegistry, r *Resolved, err error) {
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("error %v, want the context's deadline", err)
			}
		}},
		{name: "blob redirect to a link-local host refused", setup: func(t *testing.T, f *faultRegistry) string {
			f.handle("/v2/r/blobs/"+w.m.Config.Digest.String(), func(rw http.ResponseWriter, r *http.Request) {
				http.Redirect(rw, r, "https://169.254.169.254/latest/meta-data/", http.StatusTemporaryRedirect)
			})
			return f.Host + "/r:v1"
		}, want: "169.254.169.254", check: func(t *testing.T, f *faultRegistry, r *Resolved, err error) {
			if err == nil {
				t.Fatal("Open followed the redirect")
			}
		}},
		{name: "blob redirect to plain HTTP on another host refused", setup: func(t *testing.T, f *faultRegistry) string {
			f.handle("/v2/r/blobs/"+w.m.Config.Digest.String(), func(rw http.ResponseWriter, r *http.Request) {
				http.Redirect(rw, r, "http://metadata.google.internal/computeMetadata/v1/", http.StatusFound)
			})
			return f.Host + "/r:v1"
		}, want: "refusing plain HTTP to metadata.google.internal"},
		{name: "credentials not sent to the host a blob redirects to", setup: func(t *testing.T, f *faultRegistry) string {
			var authAtCDN atomic.Value
			authAtCDN.Store("unset")
			cdn := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
				authAtCDN.Store(r.Header.Get("Authorization"))
				rw.Write(cfgRaw)
			}))
			t.Cleanup(cdn.Close)
			// Another name for this machine: another host to an HTTP client.
			cdnURL := strings.Replace(cdn.URL, "127.0.0.1", "localhost", 1)
			f.handle("/v2/r/blobs/"+w.m.Config.Digest.String(), func(rw http.ResponseWriter, r *http.Request) {
				http.Redirect(rw, r, cdnURL+"/config", http.StatusTemporaryRedirect)
			})
			t.Cleanup(func() {
				if got := authAtCDN.Load(); got != "" {
					t.Errorf("the redirect target got Authorization %q", got)
				}
			})
			return f.Host + "/r:v1"
		}, basicAuth: true, opts: func(o *Options) { o.Keychain = basicKeychain{} }, check: func(t *testing.T, f *faultRegistry, r *Resolved, err error) {
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Contains(f.authSeen, f.basic) {
				t.Errorf("the registry never got the credentials: %q", f.authSeen)
			}
		}},
		{name: "token realm over plain HTTP to another host refused", setup: func(t *testing.T, f *faultRegistry) string {
			f.handle("/v2/", func(rw http.ResponseWriter, r *http.Request) {
				rw.Header().Set("WWW-Authenticate", `Bearer realm="http://10.255.255.1/token",service="registry"`)
				http.Error(rw, "token please", http.StatusUnauthorized)
			})
			return f.Host + "/r:v1"
		}, opts: func(o *Options) { o.Keychain = basicKeychain{} }, want: "10.255.255.1"},
	} {
		t.Run(c.name, func(t *testing.T) {
			basic := ""
			if c.basicAuth {
				basic = "Basic " + base64.StdEncoding.EncodeToString([]byte("reprover:s3cret"))
			}
			f := newFaultRegistry(t, basic)
			if basic != "" {
				// Push with the credentials the registry wants.
				ref, _ := name.ParseReference(f.Host + "/r:v1")
				if err := remote.Write(ref, w.img, remote.WithAuth(&authn.Basic{Username: "reprover", Password: "s3cret"})); err != nil {
					t.Fatal(err)
				}
			} else {
				f.MustPush(t, "r", "v1", w.img)
				f.MustPush(t, "r", "idx", idx)
			}
			ref := c.setup(t, f)
			rec := &recorder{next: http.DefaultTransport}
			o := Options{Transport: rec}
			if c.opts != nil {
				c.opts(&o)
			}
			if c.deadline == 0 {
				c.deadline = 10 * time.Second
			}
			ctx, cancel := context.WithTimeout(t.Context(), c.deadline)
			defer cancel()
			r, err := Open(ctx, ref, o)
			if c.layers {
				if err != nil {
					t.Fatalf("Open: %v", err)
				}
				defer r.Close()
				err = readLayers(t, r)
			}
			if rec.sawHost("169.254.169.254") || rec.sawHost("metadata.google.internal") || rec.sawHost("10.255.255.1") {
				t.Errorf("a request left for a host the registry named: %q", rec.urls)
			}
			if c.check != nil {
				c.check(t, f, r, err)
				if err != nil && c.want != "" && !strings.Contains(err.Error(), c.want) {
					t.Errorf("error %q does not say %q", err, c.want)
				}
				return
			}
			checkErr(t, err, c.want, c.limit, c.digestErr)
		})
	}
}

// TestPlainHTTP: plain HTTP only to loopback hosts and hosts named
// insecure. The Transport in Options sits under image's guard, so it sees
// only what the guard lets through.
func TestPlainHTTP(t *testing.T) {
	for _, c := range []struct {
		name     string
		ref      string
		insecure []string
		wantHTTP bool // a plain-HTTP request got past the guard
	}{
		{name: "private address refused", ref: "10.255.255.1:5000/app:v1"},
		{name: "private address without port refused", ref: "192.168.77.1/app:v1"},
		{name: ".local name refused", ref: "registry.local:5000/app:v1"},
		{name: "a loopback look-alike refused", ref: "127.0.0.1.nip.io:5000/app:v1"},
		{name: "insecure by host and port", ref: "10.255.255.1:5000/app:v1", insecure: []string{"10.255.255.1:5000"}, wantHTTP: true},
		{name: "insecure by host", ref: "10.255.255.1:5000/app:v1", insecure: []string{"10.255.255.1"}, wantHTTP: true},
		{name: "insecure names another port", ref: "10.255.255.1:5000/app:v1", insecure: []string{"10.255.255.1:6000"}},
		{name: "insecure names another host", ref: "10.255.255.1:5000/app:v1", insecure: []string{"10.255.255.2"}},
		{name: "localhost allowed", ref: "localhost:1/app:v1", wantHTTP: true},
		{name: "127.0.0.1 allowed", ref: "127.0.0.1:1/app:v1", wantHTTP: true},
		{name: "[::1] allowed", ref: "[::1]:1/app:v1", wantHTTP: true},
	} {
		t.Run(c.name, func(t *testing.T) {
			rec := &recorder{}
			_, err := Open(t.Context(), c.ref, Options{Transport: rec, InsecureRegistries: c.insecure, Keychain: authn.NewMultiKeychain()})
			if err == nil {
				t.Fatal("Open succeeded with no network")
			}
			sawHTTP := slices.ContainsFunc(rec.urls, func(u string) bool { return strings.HasPrefix(u, "http://") })
			if sawHTTP != c.wantHTTP {
				t.Errorf("plain HTTP sent = %v, want %v: %q (%v)", sawHTTP, c.wantHTTP, rec.urls, err)
			}
			if !c.wantHTTP && slices.ContainsFunc(rec.urls, func(u string) bool { return !strings.HasPrefix(u, "https://") }) {
				t.Errorf("requests: %q", rec.urls)
			}
		})
	}
}
