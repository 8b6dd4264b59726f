package bake

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func p(s string) *string { return &s }

func load(t *testing.T, file string, env map[string]string) (*File, error) {
	t.Helper()
	src, err := os.ReadFile(filepath.Join("testdata", file))
	if err != nil {
		t.Fatal(err)
	}
	return Load(src, file, env, Limits{})
}

// Expected values were cross-checked against `docker buildx bake --print`
// semantics (buildx v0.38.2's bake.ReadTargets) on the same files.
func TestTarget(t *testing.T) {
	tests := []struct {
		name, file, target string
		env                map[string]string
		want               *Target
		dockerfilePath     string
	}{
		{
			name: "defaults", file: "defaults.hcl",
			want:           &Target{Name: "default", Context: ".", Dockerfile: "Dockerfile"},
			dockerfilePath: "Dockerfile",
		},
		{
			name: "dockerfile relative to context", file: "context.hcl", target: "sub",
			want:           &Target{Name: "sub", Context: "services/api", Dockerfile: "build/Dockerfile.prod", Target: "runtime"},
			dockerfilePath: "services/api/build/Dockerfile.prod",
		},
		{
			name: "absolute dockerfile", file: "context.hcl", target: "abs",
			want:           &Target{Name: "abs", Context: "services/api", Dockerfile: "/src/Dockerfile"},
			dockerfilePath: "/src/Dockerfile",
		},
		{
			name: "remote context", file: "context.hcl", target: "remote",
			want:           &Target{Name: "remote", Context: "https://github.com/docker/buildx.git#v0.38.2", Dockerfile: "Dockerfile"},
			dockerfilePath: "Dockerfile",
		},
		{
			name: "cwd prefixes", file: "context.hcl", target: "cwd",
			want:           &Target{Name: "cwd", Context: "web", Dockerfile: "cwd://docker/web.Dockerfile"},
			dockerfilePath: "docker/web.Dockerfile",
		},
		{
			name: "empty dockerfile means default", file: "context.hcl", target: "empty-dockerfile",
			want:           &Target{Name: "empty-dockerfile", Context: "app", Dockerfile: "Dockerfile"},
			dockerfilePath: "app/Dockerfile",
		},
		{
			name: "inherits chain", file: "inherits.hcl", target: "app",
			want: &Target{
				Name: "app", Context: ".", Dockerfile: "Dockerfile.app",
				Args: map[string]*string{
					"GO_VERSION": p("1.21"), "CGO": p("0"), "UNSET": nil,
					"RELEASE": p("1"), "DEBUG": p("1"),
				},
				Platforms: []string{"linux/amd64", "linux/arm64"},
				Tags:      []string{"example.com/app:release"},
				Labels:    map[string]*string{"org.opencontainers.image.source": p("https://example.com/repo")},
				Outputs:   []string{"type=registry", "type=docker"},
				CacheFrom: []string{"type=registry,ref=example.com/cache:common", "type=registry,ref=example.com/cache:app"},
				CacheTo:   []string{"type=inline"},
			},
			dockerfilePath: "Dockerfile.app",
		},
		{
			name: "variable defaults", file: "variables.hcl",
			want: &Target{
				Name: "default", Context: ".", Dockerfile: "Dockerfile",
				Args:      map[string]*string{"TAG": p("latest"), "PUSH": p("false"), "JOBS": p("4"), "EMPTY": p("")},
				Platforms: []string{"linux/amd64"},
				Tags:      []string{"example.com/app:latest"},
			},
			dockerfilePath: "Dockerfile",
		},
		{
			name: "variable env override", file: "variables.hcl",
			env: map[string]string{
				"TAG": "v2", "PUSH": "true", "JOBS": "8", "EMPTY": "x",
				"PLATFORMS": "linux/arm64,linux/amd64", "UNRELATED": "y",
			},
			want: &Target{
				Name: "default", Context: ".", Dockerfile: "Dockerfile",
				Args:      map[string]*string{"TAG": p("v2"), "PUSH": p("true"), "JOBS": p("8"), "EMPTY": p("x")},
				Platforms: []string{"linux/arm64", "linux/amd64"},
				Tags:      []string{"example.com/app:v2"},
				FromEnv:   []string{"EMPTY", "JOBS", "PLATFORMS", "PUSH", "TAG"},
			},
			dockerfilePath: "Dockerfile",
		},
		{
			name: "variable JSON override and transitive env", file: "variables.hcl",
			env: map[string]string{"PLATFORMS_JSON": `["linux/s390x"]`, "REGISTRY": "r.io"},
			want: &Target{
				Name: "default", Context: ".", Dockerfile: "Dockerfile",
				Args:      map[string]*string{"TAG": p("latest"), "PUSH": p("false"), "JOBS": p("4"), "EMPTY": p("")},
				Platforms: []string{"linux/s390x"},
				Tags:      []string{"r.io/app:latest"},
				FromEnv:   []string{"PLATFORMS_JSON", "REGISTRY"},
			},
			dockerfilePath: "Dockerfile",
		},
		{
			name: "interpolation", file: "interpolation.hcl",
			env: map[string]string{"NAME": "ignored: attributes are not env-overridable"},
			want: &Target{
				Name: "default", Context: "services/api", Dockerfile: "api.Dockerfile",
				Args: map[string]*string{
					"VERSION": p("v1.2.3"), "MAJOR": p("1"), "ESCAPED": p("${NOT_INTERPOLATED}"),
					"BANNER": p("api 1.2.3\n"), "NUMBER": p("3"), "LIST": p("a;b;"),
				},
				Tags: []string{"example.com/api:latest", "example.com/api:1.2.3"},
			},
			dockerfilePath: "services/api/api.Dockerfile",
		},
		{
			name: "interpolation env through variable chain", file: "interpolation.hcl",
			env: map[string]string{"VERSION": "2.0.1"},
			want: &Target{
				Name: "default", Context: "services/api", Dockerfile: "api.Dockerfile",
				Args: map[string]*string{
					"VERSION": p("v2.0.1"), "MAJOR": p("2"), "ESCAPED": p("${NOT_INTERPOLATED}"),
					"BANNER": p("api 2.0.1\n"), "NUMBER": p("3"), "LIST": p("a;b;"),
				},
				Tags:    []string{"example.com/api:latest", "example.com/api:2.0.1"},
				FromEnv: []string{"VERSION"},
			},
			dockerfilePath: "services/api/api.Dockerfile",
		},
		{
			name: "functions", file: "functions.hcl",
			want: &Target{
				Name: "default", Context: ".", Dockerfile: "Dockerfile",
				Args: map[string]*string{
					"EQUAL": p("true"), "NOTEQUAL": p("true"), "AND": p("true"), "OR": p("true"),
					"NOT": p("false"), "UPPER": p("FEATURE/LOGIN"), "LOWER": p("feature/login"),
					"REPLACE": p("feature-login"), "TRIMPREFIX": p("1.2.3"), "JOIN": p("a,b,c"),
					"SPLIT": p("2"), "FORMAT": p("build-007"), "COALESCE": p(""),
					"COND": p("tagged"), "SANITIZE": p("Feature_Login"), "BASENAME": p("c.txt"),
					"TRY": p("none"), "LENGTH": p("3"),
				},
			},
			dockerfilePath: "Dockerfile",
		},
		{
			name: "group default resolves to its single target", file: "group.hcl",
			want:           &Target{Name: "app", Context: "app", Dockerfile: "Dockerfile"},
			dockerfilePath: "app/Dockerfile",
		},
		{
			name: "target outside the default group", file: "group.hcl", target: "other",
			want:           &Target{Name: "other", Context: "other", Dockerfile: "Dockerfile"},
			dockerfilePath: "other/Dockerfile",
		},
		{
			name: "group member named directly", file: "group_many.hcl", target: "worker",
			want:           &Target{Name: "worker", Context: ".", Dockerfile: "Dockerfile"},
			dockerfilePath: "Dockerfile",
		},
		{
			name: "group naming itself", file: "group_self.hcl",
			want:           &Target{Name: "default", Context: "self", Dockerfile: "Dockerfile"},
			dockerfilePath: "self/Dockerfile",
		},
		{
			name: "variable validation passes", file: "validation.hcl",
			env: map[string]string{"VERSION": "1.0"},
			want: &Target{
				Name: "default", Context: ".", Dockerfile: "Dockerfile",
				Args:    map[string]*string{"VERSION": p("1.0")},
				FromEnv: []string{"VERSION"},
			},
			dockerfilePath: "Dockerfile",
		},
		{
			name: "recorded and ignored attributes", file: "ignored.hcl",
			want: &Target{
				Name: "default", Context: ".", Dockerfile: "Dockerfile",
				DockerfileInline: p("FROM base\n"),
				Contexts:         map[string]string{"base": "docker-image://alpine:3.20"},
				Ignored:          []string{"no-cache", "secret", "ssh"},
			},
			dockerfilePath: "Dockerfile",
		},
		{
			name: "unknown attributes ignored unevaluated", file: "unknown_attr.hcl",
			want: &Target{
				Name: "default", Context: ".", Dockerfile: "Dockerfile",
				Ignored: []string{"contxt", "future{}"},
			},
			dockerfilePath: "Dockerfile",
		},
		{
			name: "duplicate target blocks merge", file: "duplicate.hcl",
			want: &Target{
				Name: "default", Context: "one", Dockerfile: "Dockerfile.two",
				Args: map[string]*string{"A": p("1"), "B": p("2")},
			},
			dockerfilePath: "one/Dockerfile.two",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f, err := load(t, tc.file, tc.env)
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			got, err := f.Target(tc.target)
			if err != nil {
				t.Fatalf("Target(%q): %v", tc.target, err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("Target(%q) =\n%s\nwant\n%s", tc.target, dump(got), dump(tc.want))
			}
			if dp := got.DockerfilePath(); dp != tc.dockerfilePath {
				t.Errorf("DockerfilePath() = %q, want %q", dp, tc.dockerfilePath)
			}
		})
	}
}

func dump(t *Target) string {
	var b strings.Builder
	v := reflect.ValueOf(*t)
	for i := range v.NumField() {
		fv := v.Field(i)
		switch x := fv.Interface().(type) {
		case *string:
			if x != nil {
				fmt.Fprintf(&b, "  %s: %q\n", v.Type().Field(i).Name, *x)
				continue
			}
		case map[string]*string:
			fmt.Fprintf(&b, "  %s: {", v.Type().Field(i).Name)
			for k, s := range x {
				if s == nil {
					fmt.Fprintf(&b, "%s: nil, ", k)
				} else {
					fmt.Fprintf(&b, "%s: %q, ", k, *s)
				}
			}
			b.WriteString("}\n")
			continue
		}
		fmt.Fprintf(&b, "  %s: %#v\n", v.Type().Field(i).Name, fv.Interface())
	}
	return b.String()
}

func TestBuildArgsDropsNull(t *testing.T) {
	f, err := load(t, "inherits.hcl", nil)
	if err != nil {
		t.Fatal(err)
	}
	tg, err := f.Target("_common")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"GO_VERSION": "1.22", "CGO": "0"}
	if got := tg.BuildArgs(); !reflect.DeepEqual(got, want) {
		t.Errorf("BuildArgs() = %v, want %v", got, want)
	}
	if v, ok := tg.Args["UNSET"]; !ok || v != nil {
		t.Errorf("Args[UNSET] = %v, %v; want nil, true", v, ok)
	}
}

func TestErrors(t *testing.T) {
	tests := []struct {
		name, file, target string
		env                map[string]string
		pos                string // expected error prefix: file:line[:col]
		msg                string
		unsupported        bool
	}{
		{name: "matrix", file: "matrix.hcl", pos: "matrix.hcl:3:3:", msg: "matrix", unsupported: true},
		{name: "function block", file: "function.hcl", pos: "function.hcl:1:1:", msg: "function blocks", unsupported: true},
		{name: "inherits cycle", file: "cycle.hcl", target: "a", pos: "cycle.hcl:10:", msg: "inherits cycle: a -> b -> c -> a"},
		{name: "inherits unknown target", file: "inherits_unknown.hcl", pos: "inherits_unknown.hcl:2:", msg: `inherits unknown target "missing"`},
		{name: "unknown target", file: "group.hcl", target: "nope", pos: "group.hcl:", msg: `unknown target "nope" (targets: app, other)`},
		{name: "no default", file: "context.hcl", pos: "context.hcl:", msg: `unknown target "default"`},
		{name: "group of several targets", file: "group_many.hcl", pos: "group_many.hcl:2:", msg: "(app, worker)"},
		{name: "variable cycle", file: "variable_cycle.hcl", pos: "variable_cycle.hcl:", msg: "variable cycle not allowed"},
		{name: "validation", file: "validation.hcl", pos: "validation.hcl:4:", msg: "VERSION is required."},
		{name: "validation with empty env value", file: "validation.hcl", env: map[string]string{"VERSION": ""}, pos: "validation.hcl:4:", msg: "VERSION is required."},
		{name: "time-dependent function", file: "timestamp.hcl", pos: "timestamp.hcl:3:", msg: "timestamp()", unsupported: true},
		{name: "block reference", file: "blockref.hcl", pos: "blockref.hcl:6:", msg: "references to other blocks", unsupported: true},
		{name: "bad bool from env", file: "variables.hcl", env: map[string]string{"PUSH": "maybe"}, pos: "variables.hcl:9:", msg: "failed to parse PUSH as bool"},
		{name: "bad number from env", file: "variables.hcl", env: map[string]string{"JOBS": "x"}, pos: "variables.hcl:13:", msg: "failed to parse JOBS as number"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f, err := load(t, tc.file, tc.env)
			if err == nil {
				_, err = f.Target(tc.target)
			}
			checkErr(t, err, tc.pos, tc.msg, tc.unsupported)
		})
	}
}

func checkErr(t *testing.T, err error, pos, msg string, unsupported bool) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error, want %s ... %s", pos, msg)
	}
	var be *Error
	if !errors.As(err, &be) {
		t.Errorf("error %T is not *Error", err)
	}
	if !strings.HasPrefix(err.Error(), pos) || !strings.Contains(err.Error(), msg) {
		t.Errorf("error %q, want prefix %q containing %q", err, pos, msg)
	}
	if got := errors.Is(err, ErrUnsupported); got != unsupported {
		t.Errorf("errors.Is(err, ErrUnsupported) = %v, want %v", got, unsupported)
	}
}

func TestUnsupportedFileKinds(t *testing.T) {
	tests := []struct{ name, filename, src, msg string }{
		{"json by name", "docker-bake.json", `{"target": {"default": {}}}`, "JSON bake files"},
		{"json by content", "docker-bake.hcl", `{"target": {"default": {}}}`, "JSON bake files"},
		{"compose by name", "compose.yaml", "services:\n  app:\n    build: .\n", "compose files"},
		{"compose by content", "docker-bake.hcl", "services:\n  app:\n    build: .\n", "compose files"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Load([]byte(tc.src), tc.filename, nil, Limits{})
			checkErr(t, err, tc.filename+":", tc.msg, true)
		})
	}
}

func TestLimits(t *testing.T) {
	chain := func(n int) string {
		var b strings.Builder
		for i := range n {
			fmt.Fprintf(&b, "target \"t%d\" {\n  inherits = [\"t%d\"]\n}\n", i, i+1)
		}
		fmt.Fprintf(&b, "target \"t%d\" {\n  context = \"deep\"\n}\n", n)
		return b.String()
	}
	groups := func(n int) string {
		var b strings.Builder
		for i := range n {
			fmt.Fprintf(&b, "group \"g%d\" {\n  targets = [\"g%d\"]\n}\n", i, i+1)
		}
		fmt.Fprintf(&b, "group \"g%d\" {\n  targets = [\"app\"]\n}\ntarget \"app\" {}\n", n)
		return b.String()
	}
	vars := func(n int) string {
		var b strings.Builder
		for i := range n {
			fmt.Fprintf(&b, "variable \"V%d\" {\n  default = \"${V%d}x\"\n}\n", i, i+1)
		}
		fmt.Fprintf(&b, "variable \"V%d\" {\n  default = \"x\"\n}\ntarget \"default\" {}\n", n)
		return b.String()
	}
	tests := []struct {
		name, src, target, pos, msg string
	}{
		{name: "file too big", src: "# " + strings.Repeat("x", DefaultLimits.MaxFileSize) + "\n", pos: "big.hcl:", msg: "larger than"},
		{name: "too many targets", src: strings.Repeat("target \"a\" {}\n", DefaultLimits.MaxTargets+1), pos: "big.hcl:1001:", msg: "more than 1000 target blocks"},
		{name: "nested parentheses", src: "X = " + strings.Repeat("(", 40) + "1" + strings.Repeat(")", 40) + "\n", pos: "big.hcl:1:", msg: "nesting deeper than 32"},
		// These would overflow the goroutine stack (a fatal error) in the
		// recursive HCL parser without the token pre-scan.
		{name: "huge unary chain", src: "X = " + strings.Repeat("!", DefaultLimits.MaxFileSize-20) + "true\n", pos: "big.hcl:1:", msg: "nesting deeper than 32"},
		{name: "huge interpolation nesting", src: "X = " + strings.Repeat(`"${`, DefaultLimits.MaxFileSize/8) + "1" + strings.Repeat(`}"`, DefaultLimits.MaxFileSize/8) + "\n", pos: "big.hcl:1:", msg: "nesting deeper than 32"},
		{name: "huge directive nesting", src: "X = \"" + strings.Repeat("%{if true}", DefaultLimits.MaxFileSize/16) + "\"\n", pos: "big.hcl:1:", msg: "nesting deeper than 32"},
		{name: "long operator chain", src: "X = 1" + strings.Repeat("+1", 40) + "\n", pos: "big.hcl:1:", msg: "nesting deeper than 32"},
		{name: "long operator chain across lines", src: "X = (1" + strings.Repeat("\n+1", 40) + ")\n", pos: "big.hcl:", msg: "nesting deeper than 32"},
		{name: "inherits depth", src: chain(DefaultLimits.MaxDepth + 1), target: "t0", pos: "big.hcl:", msg: "inherits nested deeper than 32"},
		{name: "group depth", src: groups(DefaultLimits.MaxDepth + 1), target: "g0", pos: "big.hcl:", msg: "groups nested deeper than 32"},
		{name: "variable depth", src: vars(DefaultLimits.MaxDepth + 1), pos: "big.hcl:", msg: "deeper than 32"},
		{name: "format width", src: `X = format("%999999999s", "")` + "\n", pos: "big.hcl:1:", msg: "format width"},
		{name: "for iterations", src: "R = range(1000)\nX = [for a in R : [for b in R : 1]]\n", pos: "big.hcl:2:", msg: "for-expression iterations"},
		{name: "value size", src: "variable \"A\" {\n  default = join(\"\", [for i in range(1000) : \"" + strings.Repeat("x", 100) + "\"])\n}\n", pos: "big.hcl:2:", msg: "exceeds limit bake.MaxValueBytes=65536"},
		{name: "number literal", src: "X = 1e999999\n", pos: "big.hcl:1:", msg: "out of range"},
		{name: "replace amplification", src: "A = \"" + strings.Repeat("x", 1000) + "\"\nX = replace(A, \"\", A)\n", pos: "big.hcl:2:", msg: "exceed"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f, err := Load([]byte(tc.src), "big.hcl", nil, Limits{})
			if err == nil {
				_, err = f.Target(tc.target)
			}
			checkErr(t, err, tc.pos, tc.msg, false)
		})
	}
	// Within the limits, the same constructions work.
	f, err := Load([]byte(chain(DefaultLimits.MaxDepth-1)), "ok.hcl", nil, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if tg, err := f.Target("t0"); err != nil || tg.Context != "deep" {
		t.Fatalf("Target(t0) = %v, %v", tg, err)
	}
	f, err = Load([]byte(groups(DefaultLimits.MaxDepth-1)), "ok.hcl", nil, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if tg, err := f.Target("g0"); err != nil || tg.Name != "app" {
		t.Fatalf("Target(g0) = %v, %v", tg, err)
	}
	if _, err := Load([]byte(strings.Repeat("target \"a\" {}\n", DefaultLimits.MaxTargets)), "ok.hcl", nil, Limits{}); err != nil {
		t.Fatal(err)
	}
}

func TestDiamondInheritsIsNotACycle(t *testing.T) {
	src := `
target "base" {
  args = { A = "base" }
}
target "left" {
  inherits = ["base"]
  args = { L = "1" }
}
target "right" {
  inherits = ["base"]
  args = { A = "right" }
}
target "default" {
  inherits = ["left", "right"]
}
`
	f, err := Load([]byte(src), "diamond.hcl", nil, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	tg, err := f.Target("")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"A": "right", "L": "1"}
	if got := tg.BuildArgs(); !reflect.DeepEqual(got, want) {
		t.Errorf("BuildArgs() = %v, want %v", got, want)
	}
}

func FuzzLoad(f *testing.F) {
	entries, err := os.ReadDir("testdata")
	if err != nil {
		f.Fatal(err)
	}
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), ".hcl") {
			continue
		}
		src, err := os.ReadFile(filepath.Join("testdata", e.Name()))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(src)
	}
	for _, s := range []string{
		"",
		"target \"default\" {\n  args = { A = null }\n}\n",
		"X = [for a in range(10) : \"%{if a > 5}${a}%{endif}\"]\n",
		"variable \"T\" {\n  type = list(string)\n  default = [\"a\"]\n}\ntarget \"default\" {\n  tags = T\n}\n",
		"group \"default\" {\n  targets = [\"default\"]\n}\n",
		"X = <<EOT\n${upper(\"x\")}\nEOT\n",
		"X = {for k, v in {a = 1} : k => [v][*]}\nY = try(X.b, can(X.a) ? \"${X.a}\" : \"\")\n",
		"X = convert([\"a\"], list(string))\nY = {(\"k\") = 1, k2 = 2}\n",
		"variable \"V\" {\n  type = null\n}\n",
	} {
		f.Add([]byte(s))
	}
	// TestEvaluationBudget's hostile files, smaller.
	a := "A = \"" + strings.Repeat("a", 6<<10) + "\"\n"
	for _, s := range []string{
		"X = [for x in [A, A] : [for i in range(1000) : \"" + strings.Repeat("${x}", 20) + "\"]]\n",
		"X = [for x in [A, A] : [for i in range(100) : \"%{for j in [1, 2]}${x}${x}%{endfor}\"]]\n",
		"X = [for x in [[{s = A}]] : [for i in range(100) : \"${(x[*].s)[0]}${try(x, \"\")}\"]]\n",
		"F = join(\"\", [for i in range(100) : \"%[1]s\"])\nX = format(F, A)\n",
		"X = \"" + strings.Repeat("%a", 1000) + "\"\n",
	} {
		f.Add([]byte(a + s))
	}
	env := map[string]string{"TAG": "v1", "PLATFORMS": "linux/amd64", "PUSH": "true", "X_JSON": `["a"]`}
	f.Fuzz(func(t *testing.T, src []byte) {
		file, err := Load(src, "fuzz.hcl", env, Limits{})
		if err != nil {
			var be *Error
			if !errors.As(err, &be) {
				t.Fatalf("error %T is not *Error: %v", err, err)
			}
			if !strings.HasPrefix(err.Error(), "fuzz.hcl") {
				t.Fatalf("error does not name the file: %v", err)
			}
			return
		}
		names := append(file.TargetNames(), file.GroupNames()...)
		names = append(names, "")
		for _, n := range names {
			tg, err := file.Target(n)
			if err != nil {
				continue
			}
			_ = tg.DockerfilePath()
			_ = tg.BuildArgs()
		}
	})
}
