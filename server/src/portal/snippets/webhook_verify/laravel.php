<?php

// routes/api.php: receive and verify Relay's webhooks (Standard Webhooks signatures).
// config/services.php: 'relay' => ['webhook_secret' => env('RELAY_WEBHOOK_SECRET')]
use Illuminate\Http\Request;
use Illuminate\Support\Facades\Route;
use Illuminate\Support\Str;

Route::post('/relay/webhooks', function (Request $request) {
    $id = (string) $request->header('webhook-id');
    $timestamp = (string) $request->header('webhook-timestamp');
    $key = base64_decode(Str::after(config('services.relay.webhook_secret'), 'whsec_'));
    $expected = 'v1,' . base64_encode(hash_hmac('sha256', "$id.$timestamp." . $request->getContent(), $key, true));
    $fresh = ctype_digit($timestamp) && abs(time() - (int) $timestamp) <= 300;
    $signed = collect(explode(' ', (string) $request->header('webhook-signature')))
        ->contains(fn (string $signature) => hash_equals($expected, $signature));
    abort_unless($fresh && $signed, 401, 'Invalid webhook signature');

    $event = $request->json()->all(); // ['id' => 'evt_…', 'type' => 'message.delivered', 'data' => [...]]
    // Delivery is at least once: de-duplicate on $id. Answer quickly; queue slow work.
    return response()->noContent();
});
