// Package service is `reprover serve`: the HTTP API, the durable job queue
// (River on SQLite or PostgreSQL, with its own heartbeat-based recovery of
// jobs whose worker died), the store, the server-rendered web pages, the
// registry and git hooks, and the metrics.
//
// A job runs the verify pipeline through a Runner (PipelineRunner in
// production: verify.Run on the next builder of a verify.Builders pool, and
// the signed attestations when the service has a key). Every submitted
// field is validated before it is stored; sources and images on local or
// private hosts are refused unless allowed by name. docs/service.md says
// how to configure and run it.
package service
