package infobank

import (
	"context"
	"net/http/httptrace"
	"sync/atomic"
)

// Write states of one request, as httptrace reports them.
const (
	writeNoConn  int32 = iota // no connection yet: nothing can have arrived
	writeUnknown              // connection held, write not finished (or not reported yet)
	writeFailed               // the write failed: the provider has no complete request
	writeDone                 // every byte was handed to the connection
)

// writeState tells whether a failed request may still have reached the
// provider. WroteRequest can be reported after Do has returned (a timeout
// races the write), so "connection held, outcome unknown" counts as
// "may have arrived": in doubt is the safe side, a blind resend is not.
type writeState struct{ v atomic.Int32 }

func (w *writeState) trace(ctx context.Context) context.Context {
	return httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{
		// A transport retry of an unwritten request gets a new connection,
		// so the state restarts with it.
		GotConn: func(httptrace.GotConnInfo) { w.v.Store(writeUnknown) },
		WroteRequest: func(info httptrace.WroteRequestInfo) {
			if info.Err != nil {
				w.v.Store(writeFailed)
				return
			}
			w.v.Store(writeDone)
		},
	})
}

func (w *writeState) mayHaveArrived() bool {
	s := w.v.Load()
	return s == writeUnknown || s == writeDone
}
