; closures.scm: closures that capture their environment: a counter, a
; generator, mutually recursive local definitions, memoization in a
; dictionary, composition. Every procedure defined inside a call is stored
; in the frame it captures: a frame <-> closure cycle per call, which only
; the cycle collector can free.
; expect: (10 (1 2 3 4 5) #t #f 1548008755920 20000 (3 2 1))

(define (make-counter)
  (let ((n 0))
    (lambda () (set! n (+ n 1)) n)))

(define (make-gen lst)                    ; the next item of lst, or done
  (lambda ()
    (if (null? lst)
        'done
        (let ((x (car lst)))
          (set! lst (cdr lst))
          x))))

(define (gen->list g)
  (let loop ((acc '()))
    (let ((x (g)))
      (if (eq? x 'done) (reverse acc) (loop (cons x acc))))))

(define (parity n)                        ; #t when n is even
  (define (ev? k) (if (= k 0) #t (od? (- k 1))))
  (define (od? k) (if (= k 0) #f (ev? (- k 1))))
  (ev? n))

(define (fib n)
  (define memo (make-dict))
  (define (f k)
    (cond ((< k 2) k)
          ((dict-has? memo k) (dict-ref memo k))
          (else (let ((v (+ (f (- k 1)) (f (- k 2)))))
                  (dict-set! memo k v)
                  v))))
  (f n))

(define (self-referencing n)              ; n letrec closures, each in its own cycle
  (let loop ((i 0) (total 0))
    (if (= i n)
        total
        (let ((tick (letrec ((tick (lambda (k) (if (= k 0) 1 (tick (- k 1)))))) tick)))
          (loop (+ i 1) (+ total (tick 3)))))))

(define (compose . fs)
  (if (null? fs)
      (lambda (x) x)
      (lambda (x) ((car fs) ((apply compose (cdr fs)) x)))))

(define c (make-counter))
(let loop ((i 0)) (when (< i 10) (c) (loop (+ i 1))))
(display "counter after 10 calls: ") (display (c)) (newline)

(list (- (c) 2)
      (gen->list (make-gen '(1 2 3 4 5)))
      (parity 1000)
      (parity 777)
      (fib 60)
      (self-referencing 20000)
      ((compose reverse (lambda (l) (map (lambda (x) (+ x 1)) l))) '(0 1 2)))
