trap 'kill -TERM "$sensor" 2>/dev/null' TERM INT
tcpdump -i "$CAPTURE_INTERFACE" -U -w - | phonehome sensor --input - --collector http://127.0.0.1:18080 --name live --spool $PWD/spool &
sensor=$!
wait "$sensor"
wait "$sensor"
