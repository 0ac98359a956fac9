// One text to many numbers, filled per recipient: the answer carries the batch_id.
// Flutter or Dart with package:http (flutter pub add http).
// Keep the API key on your server: a mobile app should call your backend, which calls Relay.
import 'dart:convert';

import 'package:http/http.dart' as http;

const relayApiKey = String.fromEnvironment('RELAY_API_KEY');

Future<void> main() async {
  final response = await http.post(
    Uri.parse('{{BASE_URL}}/v1/messages/bulk'),
    headers: {'Authorization': 'Bearer $relayApiKey', 'Content-Type': 'application/json'},
    body: jsonEncode({
      'message': 'Hi {{name}}, your order {{order}} has shipped.',
      'recipients': [
        {
          'to': '+923001234567',
          'name': 'Ali',
          'vars': {'order': '1043'},
        },
        {
          'to': '+923007654321',
          'name': 'Sara',
          'vars': {'order': '1044'},
        },
      ],
    }),
  );
  // Errors are JSON too: {'ok': false, 'error': {'code': …, 'message': …}}
  print(response.body);
}
