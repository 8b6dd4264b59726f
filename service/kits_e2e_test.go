package service_test

import (
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/reprover/reprover/builder"
	"github.com/reprover/reprover/fixtures"
	"github.com/reprover/reprover/service"
	"github.com/reprover/reprover/verify"
)

// TestKitsEndToEnd: the service keeps the kit of a verification whose
// downloads all matched (kits.keep store), and its next verification of
// the image (a reverify round) replays it: every download from the kit,
// none from the repository, which has moved on by then. The real
// pipeline: a pool daemon told where it reaches the service
// (buildkit.addrs[].replayAddr), a release that installs hello with apt
// through the proxy, pinned by its provenance.
func TestKitsEndToEnd(t *testing.T) {
	addr := fixtures.Buildkit(t, fixtures.StartDaemon)
	reg := fixtures.NewRegistry(t)
	img, err := fixtures.DebianBase()
	if err != nil {
		t.Fatal(err)
	}
	base := reg.MustPush(t, "base/debian", "bookworm", img)
	_, repoDir := fixtures.AptRepoCopy(t)
	var requests atomic.Int64
	files := http.FileServer(http.Dir(repoDir))
	repo := fixtures.BridgeServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		files.ServeHTTP(w, r)
	}))
	host, _, _ := net.SplitHostPort(repo)
	dockerfile := "FROM " + base + "\nRUN echo \"deb [trusted=yes] http://" + repo + "/ ./\" > /etc/apt/sources.list.d/local.list" +
		" && rm -f /etc/apt/sources.list.d/debian.sources /etc/apt/sources.list" +
		" && apt-get update && apt-get install -y --no-install-recommends hello" +
		" && rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin /var/log/apt /var/log/dpkg.log /var/log/alternatives.log /var/cache/ldconfig/aux-cache\n"
	dir, commit := fixtures.GitRepo(t, map[string]string{"Dockerfile": dockerfile}, fixtures.ReleaseTime)
	c, err := builder.Connect(t.Context(), addr, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	out := filepath.Join(t.TempDir(), "published")
	res, err := c.Build(t.Context(), builder.Spec{ContextDir: dir, DockerfilePath: filepath.Join(dir, "Dockerfile"), DockerfileName: "Dockerfile",
		SourceDateEpoch: fixtures.ReleaseTime.Unix(), OCIMediaTypes: true, OutputDir: out, Network: builder.NetworkProxy, ProxyHosts: []string{repo}, Provenance: true},
		os.Stderr, "quiet")
	if err != nil {
		t.Fatal(err)
	}
	x, err := fixtures.FromLayout(out, res.Digest)
	if err != nil {
		t.Fatal(err)
	}
	ref, err := fixtures.PushAny(reg.Host+"/release/kits:release", x)
	if err != nil {
		t.Fatal(err)
	}
	runner := &service.PipelineRunner{Builders: verify.NewDaemonBuilders([]verify.Daemon{{Addr: addr, ReplayAddr: net.JoinHostPort(host, "0")}}, nil)}
	var kitDir string
	s := newServer(t, runner, func(c *service.Config) {
		c.Network.AllowProxy = true
		c.Network.AllowDownloadHosts = []string{host}
		kitDir = filepath.Join(c.DataDir, "kits")
	})
	_, m, raw := s.do(t, "POST", "/api/v1/verifications", token, map[string]any{"source": dir, "commit": commit, "image": ref, "network": "proxy"})
	id, _ := m["id"].(string)
	if id == "" {
		t.Fatalf("submit: %s", raw)
	}
	if got := s.wait(t, id, 3*time.Minute); got["verdict"] != string(verify.Reproducible) {
		t.Fatalf("first verification: %v", got)
	}
	_, digest, _ := strings.Cut(ref, "@")
	if verify.StoredKit(kitDir, digest) == "" {
		t.Fatalf("no kit kept in %s for %s", kitDir, digest)
	}

	// The repository moves on: its index gains a package.
	f, err := os.OpenFile(filepath.Join(repoDir, "Packages"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString("\nPackage: unrelated\nVersion: 1.0\nArchitecture: all\nFilename: ./unrelated_1.0_all.deb\nSize: 1\nSHA256: " + strings.Repeat("0", 64) + "\nDescription: later\n"); err != nil {
		t.Fatal(err)
	}
	f.Close()
	before := requests.Load()
	if n, err := s.svc.Reverify(t.Context()); err != nil || n != 1 {
		t.Fatalf("reverify: %d, %v", n, err)
	}
	_, m, _ = s.do(t, "GET", "/api/v1/verifications?image="+ref, "", nil)
	var again string
	for _, it := range m["items"].([]any) {
		v := it.(map[string]any)
		if v["id"] != id {
			again = v["id"].(string)
		}
	}
	if got := s.wait(t, again, 3*time.Minute); got["verdict"] != string(verify.Reproducible) {
		t.Fatalf("re-verification: %v", got)
	}
	if n := requests.Load() - before; n != 0 {
		t.Errorf("the repository got %d request(s) during the re-verification", n)
	}
	_, v, _ := s.do(t, "GET", "/api/v1/verifications/"+again, "", nil)
	rep, _ := v["report"].(map[string]any)
	build, _ := rep["build"].(map[string]any)
	kitUse, _ := build["kit"].(map[string]any)
	if kitUse == nil || kitUse["from"] != "oci-archive:"+verify.StoredKitPath(kitDir, digest) || kitUse["replayed"] != true {
		t.Errorf("the re-verification's build.kit %v: want the kit kept in the store, replayed", kitUse)
	}
}
