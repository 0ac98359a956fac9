<?php

// One text to many numbers, filled per recipient: the answer carries the batch_id.
// In a Laravel app (config/services.php: 'relay' => ['key' => env('RELAY_API_KEY')]).
use Illuminate\Support\Facades\Http;

$relay = Http::baseUrl('{{BASE_URL}}/v1')->withToken(config('services.relay.key'))->acceptJson();

$response = $relay->post('/messages/bulk', [
    'message' => 'Hi {{name}}, your order {{order}} has shipped.',
    'recipients' => [
        [
            'to' => '+923001234567',
            'name' => 'Ali',
            'vars' => ['order' => '1043'],
        ],
        [
            'to' => '+923007654321',
            'name' => 'Sara',
            'vars' => ['order' => '1044'],
        ],
    ],
]);
echo $response->body(), PHP_EOL; // $response->json('ok'); $response->failed() on a 4xx or 5xx
