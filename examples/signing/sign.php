<?php
// Signs a POST /typing request (Standard Webhooks). PHP 7.4+, no extensions beyond the default ones.
function signRequest(string $key, string $body, ?string $id = null, ?int $timestamp = null): array
{
    $id = $id ?? 'msg_' . bin2hex(random_bytes(12));
    $timestamp = (string) ($timestamp ?? time());
    $secret = base64_decode(preg_replace('/^whsec_/', '', $key), true);
    $mac = hash_hmac('sha256', "$id.$timestamp.$body", $secret, true);
    return [
        'webhook-id' => $id,
        'webhook-timestamp' => $timestamp,
        'webhook-signature' => 'v1,' . base64_encode($mac),
    ];
}

// php sign.php KEY ID TIMESTAMP BODY: prints the three headers as JSON
if (PHP_SAPI === 'cli' && realpath($argv[0]) === __FILE__) {
    echo json_encode(signRequest($argv[1], $argv[4], $argv[2], (int) $argv[3])), "\n";
}
