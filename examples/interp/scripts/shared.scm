; shared.scm: threads sharing mutable state. Four threads fill one
; dictionary at once (it grows, replacing its table, while the others probe
; it), keep replacing a global variable that the others read, and write
; their own slot of a shared vector. Every read of a slot another thread
; may write takes its reference under that slot's lock, so a value replaced
; concurrently is never freed under a reader.
; expect: (4000 8000 #t (999 999 999 999) 4000)

(define table (make-dict))
(define latest (list 'start 0))
(define slots (make-vector 4 '()))

(define (writer id)
  (lambda ()
    (let loop ((i 0) (seen 0))
      (if (= i 1000)
          seen
          (begin
            (dict-set! table (+ (* id 1000) i) (list id i))
            (set! latest (list id i))       ; replaced while the others read it
            (vector-set! slots id (list i))
            (loop (+ i 1) (+ seen (length latest))))))))

(define (check-all)                       ; every entry holds what was stored
  (let loop ((k 0) (ok #t))
    (if (= k 4000)
        ok
        (loop (+ k 1)
              (and ok (equal? (dict-ref table k) (list (quotient k 1000) (remainder k 1000))))))))

(define threads (map (lambda (id) (spawn (writer id))) '(0 1 2 3)))
(define keys-seen                         ; a reader listing keys while they are added
  (let loop ((n 0) (rounds 0))
    (if (= rounds 20) n (loop (max n (length (dict-keys table))) (+ rounds 1)))))
(define seen (map join threads))

(list (dict-count table)
      (fold + 0 seen)
      (check-all)
      (map (lambda (id) (car (vector-ref slots id))) '(0 1 2 3))
      (length (dict-keys table)))
