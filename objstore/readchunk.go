package objstore

import "io"

// maxEmptyReads is how many reads in a row may return no bytes and no
// error before ReadChunk gives up with io.ErrNoProgress.
const maxEmptyReads = 100

// ReadChunk reads from r into buf until buf is full or r ends, and returns
// the bytes read and whether r ended. Only io.EOF from r itself ends a
// stream: any other error, io.ErrUnexpectedEOF included, is returned with
// the bytes read before it. (io.ReadFull cannot tell a short body from a
// reader that failed with io.ErrUnexpectedEOF, as a net/http request body
// does when its client disconnects mid-body; storing what was read as the
// whole body would commit a truncated object.)
func ReadChunk(r io.Reader, buf []byte) (n int, eof bool, err error) {
	for empty := 0; n < len(buf); {
		m, err := r.Read(buf[n:])
		n += m
		if err == io.EOF {
			return n, true, nil
		}
		if err != nil {
			return n, false, err
		}
		if m > 0 {
			empty = 0
		} else if empty++; empty >= maxEmptyReads {
			return n, false, io.ErrNoProgress
		}
	}
	return n, false, nil
}

// ReadSized reads r to its end into one buffer of size bytes, the length
// its response announced, instead of a growing one. got is how many bytes
// r held: size if exactly that many, fewer if it ended early, size+1 if it
// held more (it is not read further). err is r's own error, io.EOF
// excluded, with the bytes read before it.
func ReadSized(r io.Reader, size int64) (data []byte, got int64, err error) {
	data = make([]byte, size)
	n, eof, err := ReadChunk(r, data)
	if err != nil || eof {
		return data[:n], int64(n), err
	}
	var more [1]byte
	if m, _, err := ReadChunk(r, more[:]); m > 0 || err != nil {
		return data, size + int64(m), err
	}
	return data, size, nil
}
