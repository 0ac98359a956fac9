<?php
// Verify a webhook from Relay (Standard Webhooks: HMAC-SHA256 over "id.timestamp.body").
// Plain PHP; or use the official package: composer require standard-webhooks/standard-webhooks.

function verifyWebhook(string $secret, string $id, string $timestamp, string $signatureHeader, string $rawBody): bool
{
    if (!ctype_digit($timestamp) || abs(time() - (int) $timestamp) > 300) {
        return false;
    }
    $key = base64_decode(preg_replace('/^whsec_/', '', $secret));
    $expected = base64_encode(hash_hmac('sha256', "$id.$timestamp.$rawBody", $key, true));
    foreach (explode(' ', $signatureHeader) as $part) { // two during a secret rotation
        [$version, $signature] = array_pad(explode(',', $part, 2), 2, '');
        if ($version === 'v1' && hash_equals($expected, $signature)) {
            return true;
        }
    }
    return false;
}

// In your endpoint: verifyWebhook($secret, $_SERVER['HTTP_WEBHOOK_ID'], $_SERVER['HTTP_WEBHOOK_TIMESTAMP'],
//                                 $_SERVER['HTTP_WEBHOOK_SIGNATURE'], file_get_contents('php://input'))
$ok = verifyWebhook(
    getenv('WEBHOOK_SECRET'),
    getenv('WEBHOOK_ID'),
    getenv('WEBHOOK_TIMESTAMP'),
    getenv('WEBHOOK_SIGNATURE'),
    getenv('WEBHOOK_BODY'),
);
echo $ok ? 'valid' : 'invalid', PHP_EOL;
exit($ok ? 0 : 1);
