// Package bake reads docker buildx bake files (HCL, docker-bake.hcl) and
// resolves one target's build parameters the way `docker buildx bake` does,
// for a documented subset of the bake language.
//
// # Why not github.com/docker/buildx/bake
//
// Weighed when this package was written, on a scratch copy of the module,
// against buildx v0.38.2: the release whose go.mod requires the BuildKit
// this module used then (v0.34.2), so it would not have forced another. Calling
// its bake.ReadTargets from a five-line program doubled the modules go.mod
// requires (115 to 231: docker/cli, compose-spec/compose-go, the moby
// client, open-policy-agent/opa, sigstore, 13 aws-sdk-go-v2 modules,
// go-openapi, lestrrat-go/jwx, bbolt, ...) and raised golang.org/x/crypto,
// x/net, x/text and yaml/v3. Its API reads os.Environ itself, handles
// remote (git, https) bake definitions and compose files, and is the
// CLI's plumbing (ReadTargets takes seven parameters) rather than a
// library meant for reuse. So this package implements the subset below on
// the parser libraries buildx uses, github.com/hashicorp/hcl/v2 and
// github.com/zclconf/go-cty, which add a handful of modules (go.mod holds
// their versions).
//
// # Supported subset
//
// Load parses one HCL file (HCL native syntax only) and evaluates it eagerly,
// like buildx: an error anywhere in the file fails Load.
//
//   - target "NAME" { ... } blocks. Interpreted attributes: context (default
//     "."), dockerfile (default "Dockerfile"), dockerfile-inline, target,
//     args, platforms, contexts, inherits, description. Recorded without
//     interpretation: tags, labels, output, cache-from, cache-to. Accepted,
//     evaluated, and only listed by name in Target.Ignored: annotations,
//     attest, secret, ssh, pull, no-cache, network, no-cache-filter, shm-size,
//     ulimits, resources, call, entitlements, extra-hosts, policy. Other
//     attributes and nested blocks are, as in buildx, ignored unevaluated
//     (and listed in Target.Ignored). Several blocks with the same name are
//     merged in order, as buildx does.
//   - group "NAME" { targets = [...] } blocks (later definitions of the same
//     group replace earlier ones, as in buildx); groups may name groups.
//   - variable "NAME" { default = ..., type = ..., description = ...,
//     validation { condition = ..., error_message = ... } }. An entry NAME in
//     the env map given to Load overrides the default, converted as buildx
//     converts it: untyped variables keep a string, or a bool/number when the
//     default is one; typed variables parse primitives, and lists, sets,
//     tuples and maps of primitives from CSV; NAME_JSON is read as JSON for
//     typed variables (and, when NAME is absent, taken as raw text for
//     untyped ones, as buildx does). A variable without default is
//     "" (untyped) or null (typed). Top-level attributes (NAME = expr) are
//     variables that the environment cannot override. BAKE_CMD_CONTEXT is the
//     builtin "cwd://"; env is the only source of environment values (Load
//     never reads the process environment).
//   - Expressions: interpolation ("${X}"), template directives, conditionals,
//     operators, for expressions, splats, and the functions of buildx's
//     standard library that are deterministic and come with go-cty or hcl:
//     absolute add and basename byteslen bytesslice can ceil chomp chunklist
//     coalesce coalescelist compact concat contains convert csvdecode dirname
//     distinct divide element equal flatten floor format formatdate
//     formatlist greaterthan greaterthanorequalto hasindex indent index
//     indexof int join jsondecode jsonencode keys length lessthan
//     lessthanorequalto log lookup lower max merge min modulo multiply negate
//     not notequal or parseint pow range regex regex_replace regexall replace
//     reverse reverselist sanitize sethaselement setintersection setproduct
//     setsubtract setsymmetricdifference setunion signum slice sort split
//     strlen substr subtract timeadd title trim trimprefix trimspace
//     trimsuffix try upper values zipmap.
//
// Resolution (File.Target) follows buildx: name "" means "default"; a group
// is expanded recursively and must resolve to exactly one target (a group
// naming itself, group "default" { targets = ["default"] }, means the
// target of that name); inherits
// are merged in order, later wins, recursively (a cycle is an error, unlike
// buildx which silently drops the repeated target); args, labels and
// contexts merge key by key, cache-from appends, the other fields replace;
// an arg whose value is null never overrides an inherited value and is kept
// as a nil entry when nothing sets it (Target.BuildArgs drops those, as
// buildx does). Context is path-cleaned and Dockerfile is relative to Context
// unless absolute or Context is a remote (git or https) URL: see
// Target.DockerfilePath, which mirrors buildx's toBuildOpt. Target.FromEnv
// lists the env keys whose values reached the target, directly or through
// variable defaults, including through inherited targets.
//
// # Refused, with an error naming the feature, file and line
//
// matrix (and the target name attribute that goes with it), user function
// blocks, references to other blocks (target.NAME.ATTR), JSON bake files,
// compose files, functions that are host- or time-dependent or need extra
// modules (timestamp, formattimestamp, homedir, uuidv4, uuidv5, bcrypt,
// md5, sha1, sha256, sha512, base64encode, base64decode, urlencode,
// cidr*, rsadecrypt, semvercmp, unixtimestampparse), BAKE_LOCAL_PLATFORM
// (host-dependent), the --set overrides and multi-file merging of buildx.
// Such errors wrap ErrUnsupported.
//
// # Limits (the input is untrusted, from a repository)
//
// File size ≤ MaxFileSize (1 MiB); expression, block, template-directive and
// variable-reference nesting, group nesting and inherits depth ≤ MaxDepth
// (32); target, group and variable blocks ≤ MaxTargets (1000) each. Nesting
// is checked on the token stream before parsing, because the HCL parser is
// recursive and a deeply nested input would overflow the goroutine stack
// (a fatal error, not a panic); so is the parser's work joining a string's
// literal pieces, quadratic in hclsyntax (≤ MaxEvalBytes). Evaluation is
// bounded by a per-Load budget: every node of every expression charges the
// value it produces as it produces it, whatever produced it (a reference,
// an iteration variable, a template, a for expression, a splat, a
// conditional, a function), so what a node builds from its children's
// values is bounded by what was already charged; all of it ≤ MaxEvalBytes
// (64 MiB, as estimated by valueSize). Every variable and function result
// ≤ MaxValueBytes (64 KiB), checked before the call for the functions
// whose result can be far larger than their arguments (format, formatlist,
// join, split, regex, regexall, csvdecode, indent, replace, regex_replace;
// jsondecode's nesting ≤ MaxDepth); number literals and values below
// 2^4096; ≤ MaxIterations (10000) for-expression iterations. A variable's
// type is read as syntax, never evaluated. Errors are *Error values whose
// text starts with "file:line:column:"; one for a limit wraps a
// *limits.Error naming the limit and both numbers.
package bake
