package http

import (
	"errors"
	"fmt"
	"net/http"

	herald "github.com/heraldhq/herald"
	"github.com/heraldhq/herald/importer"
)

// importMembers streams a CSV or NDJSON body into the store in batches.
func (s *Server) importMembers(w http.ResponseWriter, r *http.Request) {
	format, err := importFormat(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	body := http.MaxBytesReader(w, r.Body, s.maxImport)
	im := importer.New(s.store.UpsertMembers, s.importBatch, s.now().UTC())
	err = im.Run(r.Context(), format, body)
	res := im.Result()
	s.metrics.countImport(res)
	if err != nil {
		s.writeError(w, r, importFailed(err, im.Imported()))
		return
	}
	writeJSON(w, http.StatusOK, res)
}

// importFormat picks the format for the Content-Type, which is required.
func importFormat(r *http.Request) (importer.Format, error) {
	mt, err := mediaType(r)
	if err != nil {
		return 0, err
	}
	if f, ok := importer.FormatOf(mt); ok {
		return f, nil
	}
	return 0, apiError(http.StatusUnsupportedMediaType, CodeUnsupportedMediaType,
		"Content-Type must be text/csv or application/x-ndjson, not %q", r.Header.Get("Content-Type"))
}

// importFailed says how many rows were stored before an import stopped:
// they stay stored, and an upsert by id makes sending the file again safe.
func importFailed(err error, imported int) error {
	var (
		mbe *http.MaxBytesError
		inv *herald.InvalidError
	)
	switch {
	case errors.As(err, &mbe):
		return apiError(http.StatusRequestEntityTooLarge, CodeTooLarge,
			"body exceeds %d bytes; %d rows before the limit were imported", mbe.Limit, imported)
	case imported == 0:
		return err
	case errors.As(err, &inv):
		return &herald.InvalidError{Field: inv.Field,
			Message: fmt.Sprintf("%s; %d rows before it were imported", inv.Message, imported)}
	}
	e := apiError(http.StatusInternalServerError, CodeInternal,
		"import failed after %d rows were imported; see the server log", imported)
	return fmt.Errorf("%w: %w", e, err) // the cause is logged, not answered
}

// putMember creates or replaces one member; the id comes from the path.
func (s *Server) putMember(w http.ResponseWriter, r *http.Request) {
	var m herald.Member
	if err := decodeJSON(w, r, maxJSONBytes, &m); err != nil {
		s.writeError(w, r, err)
		return
	}
	id := r.PathValue("id")
	if m.ID != "" && m.ID != id {
		s.writeError(w, r, herald.Invalid("id", "the body says %q but the path says %q", m.ID, id))
		return
	}
	m.ID = id
	if err := importer.ValidateMember(&m); err != nil {
		s.writeError(w, r, err)
		return
	}
	m.UpdatedAt = s.now().UTC()
	res, err := s.store.UpsertMembers(r.Context(), []herald.Member{m})
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	status := http.StatusOK
	if res.Inserted > 0 {
		status = http.StatusCreated
	}
	s.respondMember(w, r, status, m.ID)
}

func (s *Server) getMember(w http.ResponseWriter, r *http.Request) {
	s.respondMember(w, r, http.StatusOK, r.PathValue("id"))
}

// respondMember answers with the member as stored.
func (s *Server) respondMember(w http.ResponseWriter, r *http.Request, status int, id string) {
	m, err := s.store.GetMember(r.Context(), id)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, status, m)
}

func (s *Server) withdrawMember(w http.ResponseWriter, r *http.Request) {
	m, err := s.store.WithdrawMember(r.Context(), r.PathValue("id"), s.now().UTC())
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, m)
}
