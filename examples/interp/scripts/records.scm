; records.scm: records (dictionaries) linked into graphs with cycles: a
; doubly linked ring, a tree whose nodes point back to their parents, and
; small graphs whose nodes and index vector point at each other. Dropping
; any of them leaves cycles for the cycle collector.
; expect: (1000 499500 #t 1023 10 4000)

(define (make-node id)
  (let ((d (make-dict)))
    (dict-set! d 'id id)
    d))

(define (make-ring n)                     ; next and prev links, closed
  (let ((first (make-node 0)))
    (let loop ((i 1) (prev first))
      (if (= i n)
          (begin (dict-set! prev 'next first)
                 (dict-set! first 'prev prev)
                 first)
          (let ((node (make-node i)))
            (dict-set! prev 'next node)
            (dict-set! node 'prev prev)
            (loop (+ i 1) node))))))

(define (ring-count-sum ring)             ; (count . sum of ids)
  (let loop ((node (dict-ref ring 'next)) (count 1) (sum (dict-ref ring 'id)))
    (if (eq? node ring)
        (cons count sum)
        (loop (dict-ref node 'next) (+ count 1) (+ sum (dict-ref node 'id))))))

(define (make-tree depth parent)          ; children point to their parent
  (let ((node (make-dict)))
    (dict-set! node 'parent parent)
    (when (> depth 0)
      (dict-set! node 'left (make-tree (- depth 1) node))
      (dict-set! node 'right (make-tree (- depth 1) node)))
    node))

(define (tree-size t)
  (if (dict-has? t 'left)
      (+ 1 (tree-size (dict-ref t 'left)) (tree-size (dict-ref t 'right)))
      1))

(define (leftmost t) (if (dict-has? t 'left) (leftmost (dict-ref t 'left)) t))

(define (path-to-root node)               ; nodes from node up to the root
  (let loop ((n node) (k 0))
    (if n (loop (dict-ref n 'parent) (+ k 1)) k)))

(define (graph-churn rounds)              ; 8 nodes + 1 vector per round, all cyclic
  (let loop ((i 0) (nodes 0))
    (if (= i rounds)
        nodes
        (let ((v (make-vector 8 #f)))
          (let fill ((k 0))
            (when (< k 8) (vector-set! v k (make-node k)) (fill (+ k 1))))
          (let link ((k 0))
            (when (< k 8)
              (dict-set! (vector-ref v k) 'edge (vector-ref v (modulo (* 3 (+ k 1)) 8)))
              (dict-set! (vector-ref v k) 'graph v)
              (link (+ k 1))))
          (loop (+ i 1) (+ nodes (vector-length v)))))))

(let loop ((i 0))                         ; rings made and dropped
  (when (< i 20)
    (ring-count-sum (make-ring 500))
    (loop (+ i 1))))

(define ring (make-ring 1000))
(define tree (make-tree 9 #f))
(display "ring: ") (display (ring-count-sum ring)) (newline)
(display "tree: ") (display (tree-size tree)) (display " nodes") (newline)

(list (car (ring-count-sum ring))
      (cdr (ring-count-sum ring))
      (eq? (dict-ref (dict-ref ring 'prev) 'next) ring)
      (tree-size tree)
      (path-to-root (leftmost tree))
      (graph-churn 500))
