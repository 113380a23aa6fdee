// Command hello is the example code repo's service: a small HTTP server
// with a health endpoint, built into a distroless image by the build action.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"golang.org/x/text/language"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	showVersion := flag.Bool("version", false, "print the version and exit")
	healthcheck := flag.Bool("healthcheck", false, "probe the running server's /healthz and exit 0 when healthy")
	flag.Parse()
	addr := ":" + envOr("PORT", "8080")
	switch {
	case *showVersion:
		fmt.Printf("hello %s\n", version)
	case *healthcheck:
		// The image has no shell or curl, so the binary probes itself.
		if err := probe("http://127.0.0.1" + addr + "/healthz"); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
	default:
		if err := serve(addr); err != nil {
			log.Fatal(err)
		}
	}
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

func handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, greeting(r.Header.Get("Accept-Language"))+"\n", version)
	})
	return mux
}

// greetings are the languages the service answers in, the first the
// default.
var greetings = []struct {
	tag  language.Tag
	text string
}{
	{language.English, "hello from %s"},
	{language.German, "hallo von %s"},
	{language.French, "bonjour de %s"},
}

var matcher = func() language.Matcher {
	var tags []language.Tag
	for _, g := range greetings {
		tags = append(tags, g.tag)
	}
	return language.NewMatcher(tags)
}()

// greeting picks the greeting for an Accept-Language header.
func greeting(acceptLanguage string) string {
	tags, _, err := language.ParseAcceptLanguage(acceptLanguage)
	if err != nil || len(tags) == 0 {
		return greetings[0].text
	}
	_, i, _ := matcher.Match(tags...)
	return greetings[i].text
}

func serve(addr string) error {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	srv := &http.Server{Addr: addr, Handler: handler(), ReadHeaderTimeout: 5 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.ListenAndServe() }()
	log.Printf("hello %s listening on %s", version, addr)
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	// Kubernetes sends SIGTERM after the preStop sleep; finish in-flight requests.
	shutdown, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdown); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

func probe(url string) error {
	c := &http.Client{Timeout: 3 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: %s", url, resp.Status)
	}
	return nil
}
