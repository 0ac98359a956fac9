<?php
// Queue one SMS: the answer carries its request_id and status "queued".
// PHP with ext-curl. Needs RELAY_API_KEY in the environment.

function relay(string $method, string $url, ?array $body = null, bool $auth = true): array
{
    $headers = ['Content-Type: application/json', 'Accept: application/json'];
    if ($auth) {
        $headers[] = 'Authorization: Bearer ' . getenv('RELAY_API_KEY');
    }
    $ch = curl_init($url);
    curl_setopt_array($ch, [
        CURLOPT_CUSTOMREQUEST => $method,
        CURLOPT_HTTPHEADER => $headers,
        CURLOPT_RETURNTRANSFER => true,
    ]);
    if ($body !== null) {
        curl_setopt($ch, CURLOPT_POSTFIELDS, json_encode($body));
    }
    $answer = curl_exec($ch);
    if ($answer === false) {
        throw new RuntimeException(curl_error($ch));
    }
    curl_close($ch);
    return json_decode($answer, true); // errors too: ['ok' => false, 'error' => [...]]
}

echo json_encode(relay('POST', '{{BASE_URL}}/v1/messages', ['to' => '+923001234567', 'message' => 'Your order 1043 has shipped.'])), PHP_EOL;
