package harness

import (
	"bytes"
	"compress/flate"
	"compress/gzip"
	"compress/zlib"
	"io"
	"net/http"
	"strings"

	"github.com/andybalholm/brotli"
)

// maxDecoded caps a decompressed body, so a compression bomb from a broken
// target cannot take crosstalk's memory with it.
const maxDecoded = 32 << 20

// decodeContent removes the Content-Encoding of a body, for extraction and
// login checks. The oracle does its own, deeper decoding when it scans.
func decodeContent(h http.Header, body []byte) ([]byte, error) {
	enc := strings.ToLower(strings.TrimSpace(h.Get("Content-Encoding")))
	var r io.Reader
	switch enc {
	case "", "identity":
		return body, nil
	case "gzip", "x-gzip":
		zr, err := gzip.NewReader(bytes.NewReader(body))
		if err != nil {
			return body, err
		}
		r = zr
	case "deflate":
		// Servers disagree on whether "deflate" means zlib or raw deflate.
		if zr, err := zlib.NewReader(bytes.NewReader(body)); err == nil {
			r = zr
		} else {
			r = flate.NewReader(bytes.NewReader(body))
		}
	case "br":
		r = brotli.NewReader(bytes.NewReader(body))
	default:
		return body, nil
	}
	out, err := io.ReadAll(io.LimitReader(r, maxDecoded))
	if err != nil {
		return body, err
	}
	return out, nil
}
