package main

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/spf13/viper"
	"go.yaml.in/yaml/v3"
)

// TestDeployManifests parses every manifest of docs/deploy and loads the
// reprover config they carry with serve's own decoder: a key reprover does
// not know, a pool member without its TLS files mounted, or a manifest
// that is not one fails here, not in someone's cluster.
func TestDeployManifests(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("..", "..", "docs", "deploy", "*.yaml"))
	if err != nil || len(files) < 2 {
		t.Fatalf("manifests: %v %v", files, err)
	}
	type object = map[string]any
	var objects []object
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		dec := yaml.NewDecoder(bytes.NewReader(b))
		for {
			var o object
			if err := dec.Decode(&o); errors.Is(err, io.EOF) {
				break
			} else if err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			meta, _ := o["metadata"].(object)
			if o["apiVersion"] == nil || o["kind"] == nil || meta["name"] == nil || meta["namespace"] != "reprover" {
				t.Errorf("%s: an object without apiVersion, kind, name or the reprover namespace: %v", f, o)
			}
			objects = append(objects, o)
		}
	}
	find := func(kind, name string) object {
		for _, o := range objects {
			if o["kind"] == kind && o["metadata"].(object)["name"] == name {
				return o
			}
		}
		t.Fatalf("no %s %s in docs/deploy", kind, name)
		return nil
	}
	secret := find("Secret", "reprover-config")
	text, _ := secret["stringData"].(object)["config.yaml"].(string)
	path := filepath.Join(t.TempDir(), "config.yaml")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	g := &globals{v: viper.New(), stdout: io.Discard, stderr: io.Discard}
	newServeCmd(g) // binds the flags' defaults, as serve does
	cfg, err := loadServeConfig(g.v, path)
	if err != nil {
		t.Fatalf("reprover-config: %v", err)
	}
	cfg.Defaults()
	if err := cfg.Validate(); err != nil {
		t.Fatalf("reprover-config: %v", err)
	}
	// The loader is strict: a misspelt key in a manifest would fail.
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	if err := os.WriteFile(bad, []byte(strings.Replace(text, "jobTimeout:", "jobTimout:", 1)), 0o600); err != nil {
		t.Fatal(err)
	}
	g2 := &globals{v: viper.New(), stdout: io.Discard, stderr: io.Discard}
	newServeCmd(g2)
	if _, err := loadServeConfig(g2.v, bad); err == nil || !strings.Contains(strings.ToLower(err.Error()), "jobtimout") {
		t.Errorf("a misspelt key: %v, want an error naming it", err)
	}
	if len(cfg.BuildKit.Addrs) < 2 {
		t.Errorf("the config names %d BuildKit daemons, want the pool", len(cfg.BuildKit.Addrs))
	}

	// Every file the config names is mounted in the Deployment.
	dep := find("Deployment", "reprover")
	spec := dep["spec"].(object)["template"].(object)["spec"].(object)
	var mounts []string
	for _, c := range spec["containers"].([]any) {
		for _, m := range c.(object)["volumeMounts"].([]any) {
			mounts = append(mounts, m.(object)["mountPath"].(string))
		}
		if args := c.(object)["args"].([]any); !slices.ContainsFunc(args, func(a any) bool { return strings.HasPrefix(a.(string), "/etc/reprover/config/") }) {
			t.Errorf("serve's --config is not the mounted Secret: %v", args)
		}
	}
	mounted := func(p string) bool {
		return slices.ContainsFunc(mounts, func(m string) bool { return strings.HasPrefix(p, m+"/") })
	}
	for _, d := range cfg.BuildKit.Addrs {
		if !strings.HasPrefix(d.Addr, "tcp://") {
			t.Errorf("pool member %s: not TCP", d.Addr)
		}
		for _, f := range []string{d.CA, d.Cert, d.Key} {
			if f == "" || !mounted(f) {
				t.Errorf("pool member %s: TLS file %q is not mounted (%v)", d.Addr, f, mounts)
			}
		}
	}
	if !mounted(cfg.Signing.Key) {
		t.Errorf("signing.key %s is not mounted", cfg.Signing.Key)
	}

	// The daemons' config: TLS with client certificates, a bridge network.
	toml := find("ConfigMap", "buildkitd-config")["data"].(object)["buildkitd.toml"].(string)
	for _, want := range []string{`networkMode = "bridge"`, "[grpc.tls]", "ca = ", `address = ["tcp://`} {
		if !strings.Contains(toml, want) {
			t.Errorf("buildkitd.toml lacks %s", want)
		}
	}
}
