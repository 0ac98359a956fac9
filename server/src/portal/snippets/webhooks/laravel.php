<?php

// Subscribe an endpoint of yours to events: the answer shows its signing secret once.
// In a Laravel app (config/services.php: 'relay' => ['key' => env('RELAY_API_KEY')]).
use Illuminate\Support\Facades\Http;

$relay = Http::baseUrl('{{BASE_URL}}/v1')->withToken(config('services.relay.key'))->acceptJson();

$response = $relay->post('/webhooks', [
    'url' => url('/relay/webhooks'),
    'events' => ['message.delivered', 'message.failed'],
]);
echo $response->body(), PHP_EOL; // $response->json('ok'); $response->failed() on a 4xx or 5xx
