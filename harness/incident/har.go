package incident

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strings"
	"time"
)

// HAR 1.2 is one JSON document, not lines, so it is streamed with
// encoding/json's tokenizer: the decoder walks to log.entries and decodes one
// entry at a time, never the whole file. An entry's number in the array
// stands in for a line number.

type harEntry struct {
	StartedDateTime string     `json:"startedDateTime"`
	Time            float64    `json:"time"`
	Request         harRequest `json:"request"`
	Response        struct {
		Status  int         `json:"status"`
		Headers []harHeader `json:"headers"`
		Content struct {
			Size int64  `json:"size"`
			Text string `json:"text"`
		} `json:"content"`
		BodySize int64 `json:"bodySize"`
	} `json:"response"`
	ServerIPAddress string `json:"serverIPAddress"`
	Connection      string `json:"connection"`
}

type harRequest struct {
	Method  string      `json:"method"`
	URL     string      `json:"url"`
	Headers []harHeader `json:"headers"`
	Cookies []harHeader `json:"cookies"`
}

type harHeader struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// HARFields names where a HAR entry keeps the user, the data owner and the
// session, since HAR has no such fields of its own.
type HARFields struct {
	UserHeader    string // request header with the user, e.g. X-User
	OwnerHeader   string // response header with the data owner, e.g. X-Data-Owner
	SessionCookie string // request cookie with the session id
}

// readHAR streams the entries of a HAR document to fn.
func readHAR(r io.Reader, hf HARFields, fn func(e *Entry, err error) error) error {
	dec := json.NewDecoder(r)
	if err := harSeek(dec); err != nil {
		return fmt.Errorf("HAR: %w", err)
	}
	var e Entry
	for n := int64(1); dec.More(); n++ {
		var he harEntry
		if err := dec.Decode(&he); err != nil {
			// The document is broken from here on: the tokenizer cannot
			// resynchronise inside JSON, so report the entry and stop.
			e.reset(n)
			return fn(&e, fmt.Errorf("HAR entry: %w", err))
		}
		e.reset(n)
		err := harToEntry(&he, hf, &e)
		if cerr := fn(&e, err); cerr != nil {
			return cerr
		}
	}
	return nil
}

// harSeek advances the decoder to the first element of log.entries.
func harSeek(dec *json.Decoder) error {
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return errors.New("not a JSON object")
	}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return err
		}
		if k, _ := tok.(string); k == "log" {
			tok, err = dec.Token()
			if err != nil {
				return err
			}
			if d, ok := tok.(json.Delim); !ok || d != '{' {
				return errors.New("log is not an object")
			}
			for dec.More() {
				tok, err := dec.Token()
				if err != nil {
					return err
				}
				if k, _ := tok.(string); k == "entries" {
					tok, err = dec.Token()
					if err != nil {
						return err
					}
					if d, ok := tok.(json.Delim); !ok || d != '[' {
						return errors.New("log.entries is not an array")
					}
					return nil
				}
				var skip json.RawMessage
				if err := dec.Decode(&skip); err != nil {
					return err
				}
			}
			return errors.New("no log.entries")
		}
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			return err
		}
	}
	return errors.New("no log object")
}

func harToEntry(he *harEntry, hf HARFields, e *Entry) error {
	e.Format = FormatHAR
	t, err := time.Parse(time.RFC3339Nano, he.StartedDateTime)
	if err != nil {
		return errors.New("startedDateTime is not an ISO 8601 time")
	}
	if he.Time < 0 || he.Time > 1e9 {
		return errors.New("time is out of range")
	}
	e.Start = t.UnixMicro()
	e.End = e.Start + int64(he.Time*1000)
	e.Res = 1000
	u, err := url.Parse(he.Request.URL)
	if err != nil {
		return errors.New("request.url is not a URL")
	}
	e.Method = []byte(he.Request.Method)
	e.Path = []byte(u.Path)
	e.Status = he.Response.Status
	e.Bytes = he.Response.Content.Size
	e.Instance = []byte(he.ServerIPAddress)
	e.Conn = []byte(he.Connection)
	if hf.UserHeader != "" {
		e.User = harValue(he.Request.Headers, hf.UserHeader)
	}
	if hf.OwnerHeader != "" {
		e.Owner = harValue(he.Response.Headers, hf.OwnerHeader)
	}
	if hf.SessionCookie != "" {
		e.Session = harValue(he.Request.Cookies, hf.SessionCookie)
	}
	if he.Response.Content.Text != "" {
		sum := sha256.Sum256([]byte(he.Response.Content.Text))
		e.BodyHash = []byte(hex.EncodeToString(sum[:16]))
	}
	return nil
}

func harValue(hs []harHeader, name string) []byte {
	for _, h := range hs {
		if strings.EqualFold(h.Name, name) {
			return []byte(h.Value)
		}
	}
	return nil
}
