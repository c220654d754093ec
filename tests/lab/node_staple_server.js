// A lab server on Node.js's tls module that staples by answering the
// 'OCSPRequest' event with a DER OCSP response read from a file, as Node
// services staple. Usage: node node_staple_server.js PORT CHAIN KEY STAPLE
'use strict';
const fs = require('fs');
const tls = require('tls');
const [port, chain, key, staple] = process.argv.slice(2);
const der = fs.readFileSync(staple);
const server = tls.createServer({cert: fs.readFileSync(chain), key: fs.readFileSync(key)},
                                (socket) => { socket.on('error', () => {}); socket.resume(); });
server.on('OCSPRequest', (cert, issuer, callback) => callback(null, der));
server.on('tlsClientError', () => {});
server.listen(Number(port), '127.0.0.1');
