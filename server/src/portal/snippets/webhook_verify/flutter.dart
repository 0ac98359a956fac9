// Verify a webhook from Relay (Standard Webhooks: HMAC-SHA256 over "id.timestamp.body").
// Webhooks reach a server, not a phone app: this is Dart on the server (dart pub add crypto).
import 'dart:convert';
import 'dart:io';

import 'package:crypto/crypto.dart';

bool verifyWebhook(String secret, String id, String timestamp, String signatureHeader, String rawBody) {
  final ts = int.tryParse(timestamp);
  final now = DateTime.now().millisecondsSinceEpoch ~/ 1000;
  if (ts == null || (now - ts).abs() > 300) return false;
  final key = base64.decode(secret.replaceFirst('whsec_', ''));
  final expected = base64.encode(Hmac(sha256, key).convert(utf8.encode('$id.$timestamp.$rawBody')).bytes);
  // Two signatures, separated by a space, during a secret rotation.
  return signatureHeader.split(' ').any((part) => _constantTimeEquals(part, 'v1,$expected'));
}

bool _constantTimeEquals(String a, String b) {
  if (a.length != b.length) return false;
  var diff = 0;
  for (var i = 0; i < a.length; i++) {
    diff |= a.codeUnitAt(i) ^ b.codeUnitAt(i);
  }
  return diff == 0;
}

void main() {
  // With shelf: request.headers['webhook-id'], …, and await request.readAsString() as the raw body.
  final env = Platform.environment;
  final ok = verifyWebhook(env['WEBHOOK_SECRET'] ?? '', env['WEBHOOK_ID'] ?? '', env['WEBHOOK_TIMESTAMP'] ?? '',
      env['WEBHOOK_SIGNATURE'] ?? '', env['WEBHOOK_BODY'] ?? '');
  print(ok ? 'valid' : 'invalid');
  exit(ok ? 0 : 1);
}
