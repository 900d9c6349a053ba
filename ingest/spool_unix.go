package ingest

import (
	"errors"
	"fmt"
	"os"

	"github.com/heraldhq/herald/internal/filelock"
)

// lockDir takes an exclusive lock on dir/LOCK, so that two processes
// never share a spool (each would replay the other's records).
func lockDir(dir string) (*os.File, error) {
	f, err := filelock.TryLock(dir + "/LOCK")
	if errors.Is(err, filelock.ErrLocked) {
		return nil, fmt.Errorf("report spool %s is in use by another process: %w", dir, err)
	}
	if err != nil {
		return nil, fmt.Errorf("report spool: %w", err)
	}
	return f, nil
}

// syncDir makes a file's creation or removal in dir durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("report spool: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("report spool: %w", err)
	}
	return nil
}
