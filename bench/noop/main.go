// Command noop is the loopback ceiling of bench/webhook.sh: an HTTP server
// that reads each request's body and answers what herald answers a seed
// report, storing nothing. wrk against it with the same script measures
// what the machine, the loopback and net/http allow before herald does
// any work.
package main

import (
	"flag"
	"io"
	"log"
	"net/http"
	"time"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:18080", "HOST:PORT")
	flag.Parse()
	ack := []byte(`{"code":"0000","messageId":"x"}`)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, http.MaxBytesReader(w, r.Body, 64<<10))
		w.Header()["Content-Type"] = []string{"application/json; charset=utf-8"}
		_, _ = w.Write(ack)
	})
	srv := &http.Server{Addr: *listen, Handler: h, ReadHeaderTimeout: 5 * time.Second}
	log.Fatal(srv.ListenAndServe())
}
