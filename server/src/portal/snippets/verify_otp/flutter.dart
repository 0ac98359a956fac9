// Check the code the person typed: status is "success", "failed" or "expired".
// Flutter or Dart with package:http (flutter pub add http).
// Keep the API key on your server: a mobile app should call your backend, which calls Relay.
import 'dart:convert';

import 'package:http/http.dart' as http;

const relayApiKey = String.fromEnvironment('RELAY_API_KEY');

Future<void> main() async {
  final response = await http.post(
    Uri.parse('{{BASE_URL}}/v1/otp/verify'),
    headers: {'Authorization': 'Bearer $relayApiKey', 'Content-Type': 'application/json'},
    body: jsonEncode({
      'otp_id': const String.fromEnvironment('OTP_ID'),
      'code': const String.fromEnvironment('OTP_CODE'),
    }),
  );
  // Errors are JSON too: {'ok': false, 'error': {'code': …, 'message': …}}
  print(response.body);
}
