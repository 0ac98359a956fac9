// Send a one-time code: the answer carries the otp_id to verify against.
// Standard library only: RELAY_API_KEY=… go run example.go
package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
)

// relay calls the API and returns the raw JSON answer (errors are JSON too).
func relay(method, url string, body any, auth bool) ([]byte, error) {
	var payload io.Reader
	if body != nil {
		encoded, err := json.Marshal(body)
		if err != nil {
			return nil, err
		}
		payload = bytes.NewReader(encoded)
	}
	req, err := http.NewRequest(method, url, payload)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	if auth {
		req.Header.Set("Authorization", "Bearer "+os.Getenv("RELAY_API_KEY"))
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	return io.ReadAll(res.Body)
}

func main() {
	answer, err := relay("POST", "{{BASE_URL}}/v1/otp/send", map[string]any{"to": "+923001234567", "purpose": "login", "locale": "en"}, true)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Println(string(answer))
}
