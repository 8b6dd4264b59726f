package builder

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"maps"
	"slices"
	"strings"
)

// Action is what a rebuild does with one parameter of the release's build.
type Action string

// The actions, from the most to the least the parameter is trusted.
const (
	// Passed: the rebuild uses the value as the release did.
	Passed Action = "passed"
	// Pinned: the rebuild uses the value only when it names an image by
	// digest; otherwise the verification stops, naming it.
	Pinned Action = "pinned"
	// Replaced: reprover sets its own value, whatever the release said.
	Replaced Action = "replaced"
	// Ignored: the rebuild does without it; the report names it.
	Ignored Action = "ignored"
	// Refused: the verification stops (exit 2), naming it.
	Refused Action = "refused"
)

// Param is one parameter that can reach BuildKit's Dockerfile frontend
// (a frontend attribute as BuildKit's provenance records it in
// externalParameters.request, or a part of that request), and what a
// rebuild does with it when a flag, the project's bake file or the
// release's provenance gives it. A parameter may narrow what the rebuild
// does, never widen it: nothing that would let the build read an input
// the commit does not name is passed.
type Param struct {
	// Key is the attribute ("target", "build-arg:BUILDKIT_SYNTAX"); a
	// trailing * makes it a prefix ("context:*"); "(request) NAME" is a
	// part of the request that is not an attribute.
	Key    string
	Action Action
	Why    string
	// Routine: part of most builds and of no consequence to the output;
	// the report lists it when ignored, the hints do not.
	Routine bool
}

// Reserved build arguments and attributes named in code.
const (
	ArgSyntax      = "BUILDKIT_SYNTAX"
	argCacheNS     = "BUILDKIT_CACHE_MOUNT_NS"
	buildArgPrefix = "build-arg:"
)

// Params is every parameter reprover knows, most specific first within a
// prefix (Lookup takes the longest match). docs/threat-model.md's table is
// generated from it.
var Params = []Param{
	{"build-arg:" + ArgSyntax, Pinned, "picks the frontend that turns the Dockerfile into a build, like `# syntax=`: any program could stand in for the Dockerfile. Accepted from a flag or the bake file only with an `@sha256:` digest; from the release's provenance alone it is refused even when pinned (the commit does not name that frontend: give it with `--build-arg` to rebuild with it). The frontend used is named in the report (`build.frontend`) and both statements (the VSA's `REPROVER_FRONTEND_*` level)", false},
	{"build-arg:" + argCacheNS, Replaced, "namespaces `RUN --mount=type=cache` directories: every rebuild gets a fresh random namespace, so no cache mount carries files from an earlier build on the same daemon (`no-cache` does not empty cache mounts)", true},
	{"build-arg:BUILDKIT_MULTI_PLATFORM", Passed, "only the shape of the output (an index for one platform)", false},
	{"build-arg:BUILDKIT_SANDBOX_HOSTNAME", Passed, "the host name RUN sees: a value, not an input", false},
	{"build-arg:BUILDKIT_DOCKERFILE_CHECK", Ignored, "the frontend's lint settings: they can fail a build, never change its output", true},
	{"build-arg:BUILDKIT_CONTEXT_KEEP_GIT_DIR", Ignored, "applies to git contexts; the rebuild's context is the commit's tree, without `.git`", false},
	{"build-arg:BUILDKIT_GIT_ADVICE", Ignored, "messages only", true},
	{"build-arg:BUILDKIT_INLINE_CACHE", Ignored, "cache metadata for a cache export; the rebuild exports no cache", false},
	{"build-arg:BUILDKIT_ATTEST_*", Ignored, "attestation settings (SBOM scanner, provenance); the rebuild attaches no attestations and they never change the image", true},
	{"build-arg:BUILDKIT_SBOM_SCAN_*", Ignored, "SBOM scan settings; as above", true},
	{"build-arg:BUILDKIT_*", Refused, "a reserved argument reprover does not know: it may change how the frontend builds", false},
	{"build-arg:SOURCE_DATE_EPOCH", Passed, "the rebuild's SOURCE_DATE_EPOCH unless `--source-date-epoch` gives another; layer timestamps are rewritten to it", false},
	{"build-arg:TARGETPLATFORM", Refused, "set by BuildKit from the platform built (or the worker's, or the stage): a build arg that sets it would make the build choose another image or file than the one the rules judged for that platform", false},
	{"build-arg:TARGETOS", Refused, "set by BuildKit from the platform built (or the worker's, or the stage): a build arg that sets it would make the build choose another image or file than the one the rules judged for that platform", false},
	{"build-arg:TARGETOSVERSION", Refused, "set by BuildKit from the platform built (or the worker's, or the stage): a build arg that sets it would make the build choose another image or file than the one the rules judged for that platform", false},
	{"build-arg:TARGETARCH", Refused, "set by BuildKit from the platform built (or the worker's, or the stage): a build arg that sets it would make the build choose another image or file than the one the rules judged for that platform", false},
	{"build-arg:TARGETVARIANT", Refused, "set by BuildKit from the platform built (or the worker's, or the stage): a build arg that sets it would make the build choose another image or file than the one the rules judged for that platform", false},
	{"build-arg:TARGETSTAGE", Refused, "set by BuildKit from the platform built (or the worker's, or the stage): a build arg that sets it would make the build choose another image or file than the one the rules judged for that platform", false},
	{"build-arg:BUILDPLATFORM", Refused, "set by BuildKit from the platform built (or the worker's, or the stage): a build arg that sets it would make the build choose another image or file than the one the rules judged for that platform", false},
	{"build-arg:BUILDOS", Refused, "set by BuildKit from the platform built (or the worker's, or the stage): a build arg that sets it would make the build choose another image or file than the one the rules judged for that platform", false},
	{"build-arg:BUILDOSVERSION", Refused, "set by BuildKit from the platform built (or the worker's, or the stage): a build arg that sets it would make the build choose another image or file than the one the rules judged for that platform", false},
	{"build-arg:BUILDARCH", Refused, "set by BuildKit from the platform built (or the worker's, or the stage): a build arg that sets it would make the build choose another image or file than the one the rules judged for that platform", false},
	{"build-arg:BUILDVARIANT", Refused, "set by BuildKit from the platform built (or the worker's, or the stage): a build arg that sets it would make the build choose another image or file than the one the rules judged for that platform", false},
	{"build-arg:HTTP_PROXY", Ignored, "the publisher's proxy: RUN has no network, or reprover's capturing proxy", false},
	{"build-arg:HTTPS_PROXY", Ignored, "as HTTP_PROXY", false},
	{"build-arg:FTP_PROXY", Ignored, "as HTTP_PROXY", false},
	{"build-arg:NO_PROXY", Ignored, "as HTTP_PROXY", false},
	{"build-arg:ALL_PROXY", Ignored, "as HTTP_PROXY", false},
	{"build-arg:http_proxy", Ignored, "as HTTP_PROXY", false},
	{"build-arg:https_proxy", Ignored, "as HTTP_PROXY", false},
	{"build-arg:ftp_proxy", Ignored, "as HTTP_PROXY", false},
	{"build-arg:no_proxy", Ignored, "as HTTP_PROXY", false},
	{"build-arg:all_proxy", Ignored, "as HTTP_PROXY", false},
	{"build-arg:*", Passed, "the Dockerfile's ARG values; every `FROM`, `COPY --from` and `ADD` is judged by the pinning rules after they are expanded. A name that is not an ARG name (empty, `=`, spaces, control characters) is refused", false},
	{"target", Passed, "the stage to build: narrows the build", false},
	{"filename", Passed, "the Dockerfile's path, read from the commit's tree (a path outside it, or through a symlink, is refused)", false},
	{"dockerfilekey", Ignored, "which local mount holds the Dockerfile; the rebuild sends its own", true},
	{"contextkey", Ignored, "which local mount is the context; the rebuild sends the commit's tree", true},
	{"platform", Replaced, "the rebuild builds the published image's platforms (or `--platform`)", true},
	{"context:*", Refused, "a named context replaces a stage or an image with content the commit does not name", false},
	{"input:*", Refused, "a gateway input replaces a stage or an image with content the commit does not name", false},
	{"no-cache", Replaced, "every stage is built without the cache", true},
	{"no-cache-filter", Replaced, "as no-cache", true},
	{"force-network-mode", Replaced, "`none` for every RUN, or only the capturing proxy (`--network proxy`)", true},
	{"add-hosts", Ignored, "host names the publisher's RUN could reach; the rebuild's RUN has no network, or the proxy resolves names itself", false},
	{"hostname", Passed, "the host name RUN sees: a value, not an input", false},
	{"cgroup-parent", Ignored, "where the publisher's daemon accounted resources", false},
	{"shm-size", Ignored, "resource sizes: a build that needs them fails visibly", false},
	{"ulimit", Ignored, "as shm-size", false},
	{"memory", Ignored, "as shm-size", false},
	{"memswap", Ignored, "as shm-size", false},
	{"cpushares", Ignored, "as shm-size", false},
	{"cpuperiod", Ignored, "as shm-size", false},
	{"cpuquota", Ignored, "as shm-size", false},
	{"cpusetcpus", Ignored, "as shm-size", false},
	{"cpusetmems", Ignored, "as shm-size", false},
	{"image-resolve-mode", Ignored, "every image is pulled by the digest the Dockerfile pins", true},
	{"multi-platform", Passed, "only the shape of the output", false},
	{"label:*", Passed, "labels written into the image config: values, not inputs (release jobs set them, e.g. a version); they come from the publisher, not the commit, so a hint and build.attrs name each one the rebuild took", false},
	{"cache-from", Ignored, "no cache is imported", true},
	{"cache-imports", Ignored, "no cache is imported", true},
	{"attest:*", Ignored, "the rebuild attaches no attestations; the published ones count as encoding", true},
	{"cmdline", Ignored, "the command line of the frontend image the request was forwarded to (see source)", true},
	{"source", Ignored, "the frontend image the release's request was forwarded to (by `# syntax=`, `BUILDKIT_SYNTAX`, or a gateway request): the rebuild uses the commit's own (`# syntax=`, else BuildKit's built-in) and a hint names the release's when it differs; a rebuild by the commit's frontend that matches the published image is a proof whatever built the release", true},
	{"vcs:*", Ignored, "read for the source and commit (which must pass the source rules), never sent to the rebuild", true},
	{"local-sessionid:*", Ignored, "session bookkeeping", true},
	{"frontend.caps", Ignored, "capabilities the client asked the frontend for", true},
	{"*", Ignored, "anything else: not sent to the rebuild, named in the report", false},
	{"(request) frontend", Ignored, "`dockerfile.v0`, or `gateway.v0` when the request was forwarded to a frontend image (see source): the rebuild always asks `dockerfile.v0`", false},
	{"(request) secrets", Ignored, "the rebuild mounts no secret: a step that requires one fails, naming its line; the report names each one by id (`secret:ID`), never its value", false},
	{"(request) inputs", Refused, "gateway inputs (named contexts given as the results of other builds) replace a stage or an image with content the commit does not name", false},
	{"(request) ssh", Ignored, "the rebuild forwards no SSH agent: a step that requires one fails, naming its line", false},
	{"(request) entitlements", Refused, "never granted (`network.host`, `security.insecure`): the Dockerfile rules refuse the steps that ask", false},
}

// Lookup is the row of Params for a frontend attribute: an exact key, else
// the longest prefix that matches.
func Lookup(key string) Param {
	best, bestLen := Param{}, -1
	for _, p := range Params {
		if strings.HasPrefix(p.Key, "(request)") {
			continue
		}
		if p.Key == key {
			return p
		}
		if pre, ok := strings.CutSuffix(p.Key, "*"); ok && strings.HasPrefix(key, pre) && len(pre) > bestLen {
			best, bestLen = p, len(pre)
		}
	}
	return best
}

// BuildArgParam is the row of Params for a build argument.
func BuildArgParam(name string) Param { return Lookup(buildArgPrefix + name) }

// ParamError is a parameter a rebuild cannot use: refused, or not pinned.
type ParamError struct {
	Key    string // the attribute, "build-arg:BUILDKIT_SYNTAX"
	Value  string
	From   string // where it came from: "flag", "bake", "provenance"
	Reason string
}

func (e *ParamError) Error() string {
	from := ""
	if e.From != "" {
		from = " (from the " + e.From + ")"
	}
	return fmt.Sprintf("build parameter %s=%q%s: %s", e.Key, e.Value, from, e.Reason)
}

// Judged is a release's frontend attributes sorted by what a rebuild does
// with them.
type Judged struct {
	BuildArgs map[string]string // passed or pinned build arguments, by name
	Target    string
	Filename  string
	Attrs     map[string]string // other passed attributes (hostname, label:*, multi-platform)
	Ignored   []string          // keys ignored or replaced, sorted
	// Notable are the keys of Ignored that are not Routine: what a
	// rebuild's hints name.
	Notable []string
}

// JudgeAttrs sorts frontend attributes (a provenance's request args) by
// Params. from names their origin in errors. The first refused attribute
// is an error. Build arguments are sorted, not judged: they are judged by
// CheckBuildArgs and Check when a rebuild uses them (a request's own
// build args replace them); a caller that uses them refuses
// BUILDKIT_SYNTAX from a release's provenance (see Params).
func JudgeAttrs(attrs map[string]string, from string) (*Judged, error) {
	j := &Judged{BuildArgs: map[string]string{}, Attrs: map[string]string{}}
	for _, k := range slices.Sorted(maps.Keys(attrs)) {
		v := attrs[k]
		p := Lookup(k)
		if name, ok := strings.CutPrefix(k, buildArgPrefix); ok {
			// Judged with the request's other build args, when they are
			// used (CheckBuildArgs, Check).
			if p.Action == Ignored || p.Action == Replaced {
				j.ignore(k, p)
			} else {
				j.BuildArgs[name] = v
			}
			continue
		}
		switch p.Action {
		case Refused:
			return nil, &ParamError{Key: k, Value: v, From: from, Reason: p.Why}
		case Passed:
			switch k {
			case "target":
				j.Target = v
			case "filename":
				j.Filename = v
			default:
				j.Attrs[k] = v
			}
		default:
			j.ignore(k, p)
		}
	}
	return j, nil
}

func (j *Judged) ignore(k string, p Param) {
	j.Ignored = append(j.Ignored, k)
	if !p.Routine {
		j.Notable = append(j.Notable, k)
	}
}

// CheckBuildArgs judges build arguments (from flags, a bake file, or a
// provenance already judged) before a rebuild: a name that is not an ARG
// name, a refused reserved argument, or a BUILDKIT_SYNTAX without a digest
// is an error. Ignored and replaced ones are returned, sorted: a rebuild
// drops them.
func CheckBuildArgs(args map[string]string, from string) (dropped []string, err error) {
	for _, name := range slices.Sorted(maps.Keys(args)) {
		if err := judgeArg(name, args[name], from); err != nil {
			return nil, err
		}
		if a := BuildArgParam(name).Action; a == Ignored || a == Replaced {
			dropped = append(dropped, name)
		}
	}
	return dropped, nil
}

// judgeArg refuses a build argument no rebuild may take.
func judgeArg(name, value, from string) error {
	key := buildArgPrefix + name
	if !argName(name) {
		return &ParamError{Key: key, Value: value, From: from, Reason: "not an ARG name"}
	}
	if strings.ContainsRune(value, 0) {
		return &ParamError{Key: key, Value: value, From: from, Reason: "the value holds a NUL byte"}
	}
	switch p := BuildArgParam(name); p.Action {
	case Refused:
		return &ParamError{Key: key, Value: value, From: from, Reason: p.Why}
	case Pinned:
		if ref := SyntaxImage(value); !digestRe.MatchString(ref) {
			return &ParamError{Key: key, Value: value, From: from, Reason: "the frontend image " + ref + " has no @sha256: digest; pin it, as `# syntax=` must be"}
		}
	}
	return nil
}

// SyntaxImage is the frontend image a BUILDKIT_SYNTAX value names: BuildKit
// takes the first word, the rest being the frontend's command line.
func SyntaxImage(value string) string {
	ref, _, _ := strings.Cut(strings.TrimSpace(value), " ")
	return ref
}

// argName: what a Dockerfile ARG can be called (no '=', no space, no
// control character, not empty).
func argName(name string) bool {
	if name == "" {
		return false
	}
	for _, r := range name {
		if r == '=' || r <= ' ' || r == 0x7f {
			return false
		}
	}
	return true
}

// rebuildArgs are the frontend attributes for a rebuild's build arguments:
// each checked (CheckBuildArgs), the ignored and replaced ones dropped,
// and a fresh cache mount namespace.
func rebuildArgs(args map[string]string) (map[string]string, error) {
	dropped, err := CheckBuildArgs(args, "")
	if err != nil {
		return nil, err
	}
	attrs := map[string]string{}
	for k, v := range args {
		if !slices.Contains(dropped, k) {
			attrs[buildArgPrefix+k] = v
		}
	}
	var ns [16]byte
	if _, err := rand.Read(ns[:]); err != nil {
		return nil, err
	}
	attrs[buildArgPrefix+argCacheNS] = "reprover-" + hex.EncodeToString(ns[:])
	return attrs, nil
}
