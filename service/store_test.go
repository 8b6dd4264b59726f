package service_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/reprover/reprover/fixtures"
	"github.com/reprover/reprover/service"
	"github.com/reprover/reprover/verify"
)

// startStore starts a service on database and returns its error and what
// it logged.
func startStore(t *testing.T, database string) (*service.Service, string, error) {
	t.Helper()
	var log bytes.Buffer
	cfg := &service.Config{DataDir: t.TempDir(), Database: database, StaleAfter: time.Minute}
	cfg.Sources.Allow = []string{"/"}
	svc, err := service.New(t.Context(), cfg, &countingRunner{}, slog.New(slog.NewTextHandler(&log, nil)))
	if err == nil {
		t.Cleanup(func() { svc.Stop(context.Background()) })
	}
	return svc, log.String(), err
}

// sqliteWith makes a reprover database at a new path with n stored
// verifications, closed (its WAL folded into the file), and returns the
// path.
func sqliteWith(t *testing.T, n int) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "reprover.db")
	st, err := service.OpenStore(t.Context(), "sqlite://"+path)
	if err != nil {
		t.Fatal(err)
	}
	for i := range n {
		r := service.Request{Image: fmt.Sprintf("registry.example/app%d@sha256:%s", i, strings.Repeat("b", 64)), Source: "/srv/src/app", Commit: strings.Repeat("a", 40),
			BuildArgs: map[string]string{"PAD": strings.Repeat("x", 200)}}
		if _, _, err := st.Create(t.Context(), r.ID(), r, time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(path + "-wal"); err == nil && fi.Size() > 0 {
		t.Fatalf("the WAL was not folded into %s on close (%d bytes): the damage below would not be read", path, fi.Size())
	}
	return path
}

// execSQLite runs statements on a closed SQLite database.
func execSQLite(t *testing.T, path string, stmts ...string) {
	t.Helper()
	st, err := service.OpenStore(t.Context(), "sqlite://"+path)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	for _, q := range stmts {
		if _, err := st.DB().ExecContext(t.Context(), q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
}

// TestStoreAtStart: a damaged or foreign database is refused at start,
// naming the file and what is wrong with it; a missing file is a new
// database, said so in the log; a database from before schema versions
// were kept is migrated, its history kept.
func TestStoreAtStart(t *testing.T) {
	const pageSize = 4096 // SQLite's default, what OpenStore makes
	for _, tc := range []struct {
		name string
		// make returns the database's path; wantErr "" means it starts.
		make    func(t *testing.T) string
		wantErr string
		wantLog string
		rows    int // stored verifications readable after start
	}{
		{name: "a data page overwritten with garbage", wantErr: "damaged", make: func(t *testing.T) string {
			path := sqliteWith(t, 2000)
			fi, err := os.Stat(path)
			if err != nil {
				t.Fatal(err)
			}
			pages := fi.Size() / pageSize
			if pages < 100 {
				t.Fatalf("%d pages: too few to pick one in the middle", pages)
			}
			garbage := make([]byte, pageSize)
			rand.Read(garbage)
			f, err := os.OpenFile(path, os.O_WRONLY, 0)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			if _, err := f.WriteAt(garbage, pages/2*pageSize); err != nil {
				t.Fatal(err)
			}
			return path
		}},
		{name: "an empty file", wantErr: "is an empty file (0 bytes), not a reprover database", make: func(t *testing.T) string {
			path := filepath.Join(t.TempDir(), "reprover.db")
			if err := os.WriteFile(path, nil, 0o600); err != nil {
				t.Fatal(err)
			}
			return path
		}},
		{name: "not a database", wantErr: "not an SQLite database (PRAGMA quick_check: file is not a database", make: func(t *testing.T) string {
			path := filepath.Join(t.TempDir(), "reprover.db")
			if err := os.WriteFile(path, bytes.Repeat([]byte("not sqlite\n"), 1000), 0o600); err != nil {
				t.Fatal(err)
			}
			return path
		}},
		{name: "a newer schema version", wantErr: "schema version 99 (reprover_schema) is newer than this reprover's", make: func(t *testing.T) string {
			path := sqliteWith(t, 1)
			execSQLite(t, path, `UPDATE reprover_schema SET version = 99`)
			return path
		}},
		{name: "two schema versions", wantErr: "reprover_schema holds 2 versions", make: func(t *testing.T) string {
			path := sqliteWith(t, 1)
			execSQLite(t, path, `INSERT INTO reprover_schema (version) VALUES (1)`)
			return path
		}},
		{name: "a version whose columns are missing", wantErr: "reprover_verification does not have its columns", make: func(t *testing.T) string {
			path := sqliteWith(t, 1)
			execSQLite(t, path, `ALTER TABLE reprover_verification DROP COLUMN lease`)
			return path
		}},
		{name: "no file", wantLog: "creating a new database", make: func(t *testing.T) string {
			return filepath.Join(t.TempDir(), "new", "reprover.db")
		}},
		{name: "a database from before schema versions", rows: 1, make: func(t *testing.T) string {
			path := sqliteWith(t, 1)
			execSQLite(t, path, `DROP INDEX reprover_verification_submitter`, `ALTER TABLE reprover_verification DROP COLUMN lease`,
				`ALTER TABLE reprover_verification DROP COLUMN submitter`, `DROP INDEX reprover_verification_image_digest`,
				`ALTER TABLE reprover_verification DROP COLUMN image_digest`, `DROP TABLE reprover_inspection`, `DROP TABLE reprover_schema`)
			return path
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := tc.make(t)
			svc, log, err := startStore(t, "sqlite://"+path)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) || !strings.Contains(err.Error(), path) {
					t.Fatalf("started: %v, want an error naming %s and %q", err, path, tc.wantErr)
				}
				t.Logf("refused: %v", err)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(log, tc.wantLog) {
				t.Errorf("log %q, want %q", log, tc.wantLog)
			}
			items, _, err := svc.Store().List(t.Context(), service.Filter{})
			if err != nil || len(items) != tc.rows {
				t.Errorf("after start: %d verifications (%v), want %d", len(items), err, tc.rows)
			}
		})
	}
}

// TestPostgresSchemaVersion: a PostgreSQL database whose schema version
// is not one this reprover knows is refused at start, naming it.
func TestPostgresSchemaVersion(t *testing.T) {
	dsn := fixtures.Postgres(t)
	if _, _, err := startStore(t, dsn); err != nil {
		t.Fatal(err)
	}
	conn, err := pgx.Connect(t.Context(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(t.Context())
	if _, err := conn.Exec(t.Context(), `UPDATE reprover_schema SET version = 99`); err != nil {
		t.Fatal(err)
	}
	_, _, err = startStore(t, dsn)
	if want := "schema version 99 (reprover_schema) is newer than this reprover's"; err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("started on version 99: %v, want %q", err, want)
	}
	t.Logf("refused: %v", err)
}

// TestStoreFaults: a store or queue that fails while the service runs.
// /healthz names the part that failed (503); a list or a page the store
// cannot answer is the server's error (500), never a 400 blaming the
// caller; a submission whose job cannot be enqueued leaves nothing
// stored. Real faults: the tables dropped under the running service.
func TestStoreFaults(t *testing.T) {
	health := func(t *testing.T, s *server) (int, map[string]any) {
		code, m, raw := s.do(t, "GET", "/healthz", "", nil)
		checks, _ := m["checks"].(map[string]any)
		if checks == nil {
			t.Fatalf("healthz: %d %s", code, raw)
		}
		return code, checks
	}
	t.Run("healthy", func(t *testing.T) {
		s := newServer(t, &countingRunner{}, nil)
		if code, checks := health(t, s); code != 200 || checks["store"] != "ok" || checks["queue"] != "ok" {
			t.Errorf("healthz %d %v, want 200 with store and queue ok", code, checks)
		}
	})
	t.Run("the queue's table gone", func(t *testing.T) {
		s := newServer(t, &countingRunner{}, nil)
		if _, err := s.svc.Store().DB().ExecContext(t.Context(), `DROP TABLE river_job`); err != nil {
			t.Fatal(err)
		}
		if code, checks := health(t, s); code != 503 || checks["store"] != "ok" || !strings.Contains(fmt.Sprint(checks["queue"]), "river_job") {
			t.Errorf("healthz %d %v, want 503 naming the queue's table", code, checks)
		}
		code, _, raw := s.do(t, "POST", "/api/v1/verifications", token, validRequest())
		if code != 500 {
			t.Errorf("submit: %d %s, want 500", code, raw)
		}
		var n int
		if err := s.svc.Store().DB().QueryRowContext(t.Context(), `SELECT count(*) FROM reprover_verification`).Scan(&n); err != nil || n != 0 {
			t.Errorf("a failed submission left %d verifications stored (%v), want none", n, err)
		}
	})
	t.Run("the store's table gone", func(t *testing.T) {
		s := newServer(t, &countingRunner{}, nil)
		if _, err := s.svc.Store().DB().ExecContext(t.Context(), `DROP TABLE reprover_verification`); err != nil {
			t.Fatal(err)
		}
		if code, checks := health(t, s); code != 503 || !strings.Contains(fmt.Sprint(checks["store"]), "reprover_verification") {
			t.Errorf("healthz %d %v, want 503 naming the store's table", code, checks)
		}
		for _, p := range []string{"/api/v1/verifications", "/api/v1/verifications?cursor=1:x", "/", "/?status=done"} {
			if code, _, raw := s.do(t, "GET", p, "", nil); code != 500 {
				t.Errorf("GET %s: %d %s, want 500", p, code, raw)
			}
		}
		if code, _, raw := s.do(t, "POST", "/api/v1/verifications", token, validRequest()); code != 500 {
			t.Errorf("submit: %d %s, want 500", code, raw)
		}
	})
	t.Run("a malformed cursor is the caller's", func(t *testing.T) {
		s := newServer(t, &countingRunner{}, nil)
		if code, m, raw := s.do(t, "GET", "/api/v1/verifications?cursor=x", "", nil); code != 400 || m["field"] != "cursor" {
			t.Errorf("cursor=x: %d %s, want 400 naming cursor", code, raw)
		}
	})
	t.Run("a BuildKit pool that does not answer", func(t *testing.T) {
		hung, _ := fixtures.SilentListener(t)
		s := newServer(t, &service.PipelineRunner{Builders: verify.NewBuilders([]string{"tcp://" + hung}, nil)}, nil)
		code, checks := health(t, s)
		if code != 503 || checks["store"] != "ok" || checks["queue"] != "ok" || !strings.Contains(fmt.Sprint(checks["buildkit"]), hung) {
			t.Errorf("healthz %d %v, want 503 naming the daemon %s", code, checks, hung)
		}
		b, _ := json.Marshal(checks)
		t.Logf("healthz: %s", b)
	})
}
