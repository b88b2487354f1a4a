#!/usr/bin/env bash
# A build succeeds when it exits 0 and leaves a regular file at
# PIPELINE_OUT.  Anything else there (a symlink, even to a good file, a
# directory, a FIFO) is a compile_error whose log says what it is, as
# is nothing at all; none of them is published as an artifact.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../tools/builder_lib.sh"
t_init builder_pipeline_out

P=$T_DIR/pipelines OUT=$T_DIR/out
mkdir -p "$P"
for id in 1 2 3 4 5; do b_spec "$P" $id 1; done
cmd='case $PIPELINE_ID in
1) echo ok >"$PIPELINE_OUT.real"; ln -s "$PIPELINE_OUT.real" "$PIPELINE_OUT" ;;
2) mkdir "$PIPELINE_OUT" ;;
3) mkfifo "$PIPELINE_OUT" ;;
4) true ;;
5) echo ok >"$PIPELINE_OUT" ;;
esac'
b_builder builder --pipelines "$P" --out "$OUT" --worker-id 0 --jobs 2 \
    --build-cmd "$cmd"
for id in 1 2 3 4 5; do b_wait_ready 10 "$OUT" $id 1; done

says() {
    [ "$(b_field "$OUT" "$1" 1 state)" = compile_error ] &&
        b_log_has "$OUT" "$1" 1 "^build exited 0 but $2\$"
}
t_check "a symlink is named as such" says 1 'PIPELINE_OUT is a symlink, not a file'
t_check "a directory is named as such" \
    says 2 'PIPELINE_OUT is a directory, not a file'
t_check "a FIFO is named as such" says 3 'PIPELINE_OUT is a FIFO, not a file'
t_check "nothing is named as such" says 4 'left no file at PIPELINE_OUT'
t_check "a file is a success" [ "$(b_field "$OUT" 5 1 state)" = success ]
t_check "only the file became an artifact" [ "$(ls "$OUT/artifacts")" = 5@1 ]
