// Package service is `reprover serve`: the HTTP API, the durable job queue,
// the store, the web pages and the metrics.
//
// Not yet implemented: see issue 5.
package service
